"""Commands of the sms feature (registered on `pipeline.cli.cli`).

    noticecast sms segment [--signature S] [--opt-out O] [--json] TEXT
    noticecast sms digest (--area PATH | --phone NUMBER) [--today D] [--json]
    noticecast sms preview --phone NUMBER [--today D] [--json]
    noticecast sms subscribers
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING

import click

from pipeline.cli import _ProjectRef, cli, err, pass_project, print_problems, today_option
from pipeline.errors import InputError
from pipeline.renderers.sms_segment import LIMITS, Segmentation, segment

if TYPE_CHECKING:
    from pipeline.errors import Problem
    from pipeline.subscribers import Subscriber


@cli.group()
def sms() -> None:
    """SMS: how a text is cut into parts, what a subscriber would receive."""


@sms.command("segment")
@click.option("--signature", default="", metavar="S",
              help="Put this signature (e.g. 【扶贫公示】) in front; it counts toward the length.")
@click.option("--opt-out", "opt_out", default="", metavar="O",
              help="Put this opt-out text (e.g. 回T退订) at the end; it counts too.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"encoding", "units", "segments", "parts"} as JSON.')
@click.argument("text")
def segment_command(signature: str, opt_out: str, as_json: bool, text: str) -> None:
    """Show how TEXT is cut into SMS parts (GSM-7 or UCS-2, 3GPP TS 23.038). TEXT '-' reads
    standard input."""
    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    cut = segment(f"{signature}{text}{opt_out}")
    if as_json:
        click.echo(json.dumps(cut.as_json(), ensure_ascii=False))
        return
    _print_segmentation(cut)


def _print_segmentation(cut: Segmentation) -> None:
    single, per_part = LIMITS[cut.encoding]
    limit = single if cut.segments <= 1 else per_part
    unit = "septets" if cut.encoding == "GSM-7" else "UTF-16 units"
    click.echo(f"encoding: {cut.encoding}")
    click.echo(f"units:    {cut.units} {unit}")
    click.echo(f"segments: {cut.segments} (at most {limit} {unit} each)")
    for number, (part, units) in enumerate(zip(cut.parts, cut.part_units, strict=True), 1):
        click.echo(f"--- part {number}: {units} {unit}, {len(part)} characters")
        click.echo(part)


@sms.command("digest")
@click.option("--area", default=None, metavar="PATH",
              help="An area path, e.g. 什邡市/师古镇/马祖村.")
@click.option("--phone", default=None, metavar="NUMBER",
              help="A subscriber's phone: their area from the subscriber list.")
@click.option("--json", "as_json", is_flag=True, help="Print the digest and its parts as JSON.")
@today_option
@pass_project
def digest_command(ref: _ProjectRef, area: str | None, phone: str | None, as_json: bool,
                   today: date | None) -> None:
    """Preview the digest a subscriber of an area receives for the notices current today."""
    from pipeline.load import load_notices
    from pipeline.renderers.base import RenderContext
    from pipeline.renderers.sms import applies_to, compose_digest, current_notices, digest_json

    project = ref.get()
    config = project.config
    if (area is None) == (phone is None):
        raise click.UsageError("give exactly one of --area or --phone")
    label = area or ""
    if phone is not None:
        subscriber = _find_subscriber(ref, phone)
        area, label = subscriber.area, f"{subscriber.masked} ({subscriber.area})"
    assert area is not None
    area = "/".join(part.strip() for part in area.split("/"))
    known, wrong = config.area_known(area)
    if not known:
        raise click.UsageError(f"unknown area {area!r}: {wrong!r} is not in the regions of "
                               "noticecast.yaml")
    loaded = load_notices((project.content_dir,), config, project.root)
    print_problems(loaded.problems)
    ctx = RenderContext(config=config, today=project.today(today), templates=project.templates)
    chosen = [n for n in current_notices(loaded.notices, ctx) if applies_to(n, area, config)]
    if not chosen:
        err.print(f"no current notice for {label} on {ctx.today.isoformat()}")
        return
    digest = compose_digest(chosen, area, ctx)
    if as_json:
        click.echo(json.dumps(digest_json(digest, area=area, today=ctx.today.isoformat()),
                              ensure_ascii=False, indent=2))
        return
    err.print(f"digest for {label} on {ctx.today.isoformat()}: {len(digest.notice_ids)} "
              f"notice(s), {digest.digest_id}")
    _print_segmentation(Segmentation(digest.encoding, digest.units, digest.parts,
                                     digest.part_units))


@sms.command("preview")
@click.option("--phone", required=True, metavar="NUMBER", help="A subscriber's phone.")
@click.option("--json", "as_json", is_flag=True, help="Print the text and its parts as JSON.")
@today_option
@pass_project
def preview_command(ref: _ProjectRef, phone: str, as_json: bool, today: date | None) -> None:
    """Print exactly the text this subscriber would receive today, with its parts and units.

    It is what `noticecast publish --today D` would send them: the notices due to them by the
    ledger (new ones, corrections and withdrawals of what they received, retries), composed as
    publish composes them. Nothing is sent or recorded.
    """
    from pipeline.publish import PublishOptions, moment, publish
    from pipeline.renderers.base import RenderContext
    from pipeline.renderers.sms import DigestCache, digest_json

    project = ref.get()
    config = project.config
    subscriber = _find_subscriber(ref, phone)
    label = f"{subscriber.masked} ({subscriber.area})"
    now = moment(config, today=project.today(today))
    report = publish(project, PublishOptions(now=now, channel="sms", dry_run=True))
    print_problems(report.problems)
    batch = next((b for b in report.plan.batches if b.channel == "sms"
                  and b.target.address.get("phone") == subscriber.phone), None)
    when = now.isoformat(timespec="minutes")
    if batch is None:
        err.print(f"nothing is due for {label} as of {when}; `noticecast sms digest --phone` "
                  "shows the digest of every current notice of their area")
        return
    ctx = RenderContext(config=config, today=now.astimezone(config.zone).date(),
                        templates=project.templates)
    digest = DigestCache(ctx).compose([(i.notice, i.key.event) for i in batch.items],
                                      subscriber.area)
    if as_json:
        click.echo(json.dumps(digest_json(digest, phone=subscriber.masked,
                                          area=subscriber.area, now=now.isoformat()),
                              ensure_ascii=False, indent=2))
        return
    events = ", ".join(sorted({i.key.event for i in batch.items}))
    err.print(f"to {label} as of {when}: {len(digest.notice_ids)} notice(s) ({events}), "
              f"{digest.digest_id}")
    _print_segmentation(Segmentation(digest.encoding, digest.units, digest.parts,
                                     digest.part_units))


def _find_subscriber(ref: _ProjectRef, phone: str) -> Subscriber:
    from pipeline.subscribers import mask_phone, normalise_phone

    project = ref.get()
    wanted = normalise_phone(phone)
    if wanted is None:
        raise click.UsageError(f"{mask_phone(phone)} is not a Chinese mobile number")
    subscribers, _ = _subscribers(ref)
    for subscriber in subscribers:
        if subscriber.phone == wanted:
            return subscriber
    setting = project.config.sms.subscribers or "the subscriber list"
    raise click.UsageError(f"{mask_phone(wanted)} is not in {setting}")


def _subscribers(ref: _ProjectRef) -> tuple[list[Subscriber], list[Problem]]:
    from pipeline.subscribers import load_subscribers

    project = ref.get()
    setting = project.config.sms.subscribers
    if not setting:
        raise click.UsageError("sms.subscribers is not set in noticecast.yaml")
    path = project.config.path(setting)
    return load_subscribers(path, project.config, project.display(path))


@sms.command("subscribers")
@pass_project
def subscribers_command(ref: _ProjectRef) -> None:
    """Check the subscriber list and count the subscribers of each area (phones masked)."""
    try:
        subscribers, warnings = _subscribers(ref)
    except InputError as exc:
        print_problems(exc.problems)
        sys.exit(1)
    print_problems(warnings)
    for area, count in sorted(Counter(s.area for s in subscribers).items()):
        click.echo(f"{count:4d}  {area}")
    err.print(f"{len(subscribers)} subscriber(s), {len(warnings)} warning(s)")
