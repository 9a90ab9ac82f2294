"""Commands of the web feature (registered on `pipeline.cli.cli`): serve, import-feed."""

from __future__ import annotations

import functools
import os
import posixpath
import urllib.parse
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from pipeline.cli import _ProjectRef, cli, err, pass_project
from pipeline.errors import InputError

LOOPBACK = "127.0.0.1"  # `serve` is for a look at the build, never for the public
MAX_PATH = 2048  # longer request paths are refused (400); no page of the site comes close


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the built site, optionally under a sub-path such as /gongshi/."""

    prefix = ""

    def translate_path(self, path: str) -> str:
        if self.prefix:
            bare = path.split("?", 1)[0].split("#", 1)[0]
            if not (bare + "/").startswith(self.prefix):
                return str(Path(self.directory) / ".not-under-prefix")  # -> 404
            path = "/" + path[len(self.prefix):]
        return super().translate_path(path)

    def send_head(self):  # type: ignore[no-untyped-def]  # the stdlib's own signature
        """400 for a path no file can have, 404 for anything outside the site folder; the
        stdlib would raise on a NUL byte and follow a symlink anywhere on the disk."""
        bare = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            decoded = urllib.parse.unquote(bare, errors="strict") if len(bare) <= MAX_PATH else ""
        except UnicodeDecodeError:
            decoded = ""
        if not decoded or any(ord(char) < 32 or char == "\x7f" for char in decoded):
            self.send_error(HTTPStatus.BAD_REQUEST, "Malformed path")
            return None
        try:
            real = os.path.realpath(self.translate_path(self.path))
            site = os.path.realpath(str(self.directory))
            if real != site and not real.startswith(site + os.sep):
                self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                return None
            return super().send_head()
        except (OSError, ValueError):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None

    def log_message(self, format: str, *args: object) -> None:
        err.print(f"[dim]{self.address_string()} {format % args}[/dim]")


def normal_prefix(prefix: str) -> str:
    """'gongshi' or '/gongshi' -> '/gongshi/'; '' or '/' -> ''."""
    inner = posixpath.normpath("/" + prefix.strip("/")).strip("/")
    return f"/{inner}/" if inner else ""


def make_server(directory: Path, port: int = 8000, prefix: str = "",
                quiet: bool = False) -> ThreadingHTTPServer:
    """A static server for ``directory`` on 127.0.0.1 (port 0: any free port)."""
    handler_class = type("Handler", (_SiteHandler,), {
        "prefix": normal_prefix(prefix),
        **({"log_message": lambda self, format, *args: None} if quiet else {}),
    })
    handler = functools.partial(handler_class, directory=str(directory))
    return ThreadingHTTPServer((LOOPBACK, port), handler)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The port on 127.0.0.1.")
@click.option("--dir", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The built site (default: out/web/).")
@click.option("--prefix", default="", metavar="PATH",
              help="Serve under a sub-path, e.g. /gongshi/, to check relative links.")
@pass_project
def serve(ref: _ProjectRef, port: int, site_dir: Path | None, prefix: str) -> None:
    """Serve the built site on 127.0.0.1 for a look (run `noticecast build` first)."""
    project = ref.get()
    directory = (site_dir or project.out_dir / "web").resolve()
    if not (directory / "index.html").is_file():
        raise InputError.at(project.display(directory), 0, 0,
                            "no built site here; run `noticecast build --only web` first")
    try:
        server = make_server(directory, port, prefix)
    except OSError as exc:
        raise InputError.at("--port", 0, 0,
                            f"cannot listen on {LOOPBACK}:{port} ({exc.strerror}); "
                            "try another --port") from None
    host, bound = server.server_address[:2]
    path = normal_prefix(prefix) or "/"
    click.echo(f"Serving {project.display(directory)} at http://{host}:{bound}{path} "
               "(Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command("import-feed")
@click.argument("source")
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path),
              default=Path("content/imported"), show_default=True,
              help="Folder for the draft notices (and the import state file).")
@click.option("--area", default=None,
              help="Area of the imported notices (default: the first configured county).")
@click.option("--issuer", default=None,
              help="Issuer of the imported notices (default: the feed's title).")
@pass_project
def import_feed(ref: _ProjectRef, source: str, into: Path, area: str | None,
                issuer: str | None) -> None:
    """Import an RSS/Atom feed (URL or file) as draft notices, one YAML per new entry."""
    from pipeline.feedimport import import_feed as run_import

    project = ref.get()
    folder = into if into.is_absolute() else project.root / into
    result = run_import(source, folder, project.config, area=area, issuer=issuer)
    for path in result.written:
        click.echo(f"draft written: {project.display(path)}")
    for path in result.kept:
        err.print(f"[yellow]kept (edited since import): {project.display(path)}[/yellow]")
    err.print(f"{len(result.written)} written, {result.seen} already imported, "
              f"{len(result.kept)} edited file(s) left alone")
