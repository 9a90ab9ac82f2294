"""The preview desk shows the board sheet beside the other outputs."""

from __future__ import annotations

import http.client
import re
import shutil
from datetime import date
from pathlib import Path

from pipeline.preview.server import HOST, BackgroundPreview
from pipeline.preview.state import PreviewState
from pipeline.project import Project

REPO = Path(__file__).resolve().parent.parent


def get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def test_the_desk_has_a_board_panel_with_the_sheet_and_its_board(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    for notice_id in ("sf-2018-0012", "sf-2018-0020"):  # a notice, and a withdrawal
        source = next((REPO / "content").rglob(f"{notice_id}.yaml"))
        shutil.copy(source, root / "content" / source.name)
    state = PreviewState(Project.open(root), today=date(2018, 7, 8))
    with BackgroundPreview.start(state, watch=False) as server:
        status, _, body = get(server.port, "/notices/sf-2018-0012")
        page = body.decode("utf-8")
        assert status == 200
        panel = page[page.index('id="panel-board"'):]
        panel = panel[:panel.index("</section>")]
        assert "公示栏 Board sheet" in panel and "→ board" in panel
        assert "马祖村村务公开栏 · 马祖村文书 张秀英" in panel
        assert "<dd>A4</dd>" in panel and "<dd>one page</dd>" in panel
        [proof] = re.findall(r'<img class="proof" src="([^"]+)"', panel)
        status, kind, png = get(server.port, proof.replace("&amp;", "&"))
        assert status == 200 and kind == "image/png" and png.startswith(b"\x89PNG")
        pdf = re.search(r'<a href="([^"]+sheet\.pdf[^"]*)"', panel)
        assert pdf is not None
        status, kind, data = get(server.port, pdf.group(1).replace("&amp;", "&"))
        assert status == 200 and data.startswith(b"%PDF")
        # The other outputs are still there beside it.
        for output in ("web", "card", "newspaper", "ticker", "sms"):
            assert f'data-output="{output}"' in page, output

        _, _, body = get(server.port, "/notices/sf-2018-0020")
        withdrawn = body.decode("utf-8")
        panel = withdrawn[withdrawn.index('id="panel-board"'):]
        assert "撤回公告" in panel[:panel.index("</section>")]
        assert "no board is configured for this area" in panel[:panel.index("</section>")]
