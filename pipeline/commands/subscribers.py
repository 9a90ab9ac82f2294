"""Commands of what comes back from SMS: who opted out, and the gateway's callback endpoint.

    noticecast subscribers [--opted-out] [--format json]
    noticecast serve-callbacks [--host H] [--port P]
"""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from pipeline.cli import _escape, _ProjectRef, cli, err, format_option, out, pass_project
from pipeline.errors import InputError, NoticecastError


@cli.command()
@click.option("--opted-out", "only_opted_out", is_flag=True,
              help="Only the phones that opted out.")
@format_option
@pass_project
def subscribers(ref: _ProjectRef, only_opted_out: bool, fmt: str) -> None:
    """Show the SMS subscribers (phones masked) and who opted out, when, and with which word.

    A subscriber who replied an opt-out word (sms.opt_out_words: T, TD, 退订) gets no more
    texts, even while still in the subscriber list.
    """
    from channels.sms import make_inbox, subscriber_targets

    project = ref.get()
    config = project.config
    try:
        targets = subscriber_targets(config)
    except InputError as exc:
        from pipeline.cli import print_problems

        print_problems(exc.problems)
        sys.exit(1)
    opted_out = make_inbox(config).suppressed()
    listed = {t.key for t in targets}
    entries = [{"key": t.key, "phone": t.label, "area": str(t.address.get("area", "")),
                "listed": True, "opted_out": opted_out[t.key].as_dict()
                if t.key in opted_out else None} for t in targets]
    entries += [{"key": s.target, "phone": s.target_label, "area": "", "listed": False,
                 "opted_out": s.as_dict()} for s in opted_out.values() if s.target not in listed]
    if only_opted_out:
        entries = [e for e in entries if e["opted_out"]]
    if fmt == "json":
        click.echo(json.dumps({"subscribers": entries}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"SMS subscribers — {len(targets)} listed, {len(opted_out)} opted out",
                  title_justify="left")
    for column in ("phone", "area", "state"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        state = "subscribed"
        if entry["opted_out"]:
            when = opted_out[entry["key"]].at.astimezone(config.zone)
            state = (f"[yellow]opted out {when:%Y-%m-%d %H:%M}, replied "
                     f"{_escape(entry['opted_out']['word'])} "
                     f"({_escape(entry['opted_out']['source'])})[/yellow]")
        if not entry["listed"]:
            state += " — no longer in the list"
        table.add_row(_escape(entry["phone"]), _escape(entry["area"]), state)
    out.print(table)


@cli.command("serve-callbacks")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where to listen. Keep the loopback default and put a TLS proxy in front.")
@click.option("--port", type=click.IntRange(0, 65535), default=8790, show_default=True,
              help="The port (0: any free one).")
@pass_project
def serve_callbacks(ref: _ProjectRef, host: str, port: int) -> None:
    """Receive the SMS gateway's receipts and replies (POST /sms/receipt, /sms/reply).

    Each request must carry the shared secret (``Authorization: Bearer …`` or
    ``X-Noticecast-Secret``) from the variable channels.sms.http.callback_secret_env names
    (NOTICECAST_SMS_CALLBACK_SECRET by default). Receipts and opt-outs go to the ledger.
    """
    from channels.sms import make_inbox
    from channels.sms_callbacks import CallbackServer
    from pipeline.config import HttpSmsSettings

    project = ref.get()
    config = project.config
    http = config.channels.sms.http
    secret_env = (http.callback_secret_env if http is not None
                  else HttpSmsSettings.model_fields["callback_secret_env"].default)
    secret = config.secret(secret_env)
    if secret is None:
        raise NoticecastError(f"{secret_env} is not set; set it to the secret the SMS gateway "
                          "sends with its callbacks")
    inbox = make_inbox(config)
    try:
        server = CallbackServer((host, port), inbox, secret)
    except OSError as exc:
        raise NoticecastError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose "
                          "another --port") from None
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"http://{bound_host!s}:{bound_port}/sms/", nl=True)
    err.print(f"receiving SMS receipts and replies on http://{bound_host!s}:{bound_port}/sms/"
              " (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        server.server_close()
        inbox.close()
