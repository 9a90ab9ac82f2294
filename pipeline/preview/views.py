"""What each page shows, computed from a Snapshot: plain data for the templates.

The templates stay free of logic beyond loops and conditions; everything that needs the model,
the config or the cache folder is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.model import Kind, Notice, PublicityState, Status
from pipeline.preview.delivered import DeliveryRow, LedgerView, read_ledger
from pipeline.preview.outputs import OutputFile, OutputReader, RendererOutputs
from pipeline.preview.state import NoticeEntry, RendererStatus, Snapshot

RENDERER_TITLES = {
    "web": "网页 Web page",
    "card": "手机卡片 Card",
    "newspaper": "报纸版块 Newspaper block",
    "ticker": "LED / 电视滚动 Ticker",
    "sms": "短信 SMS",
    "wechat": "微信公众号 WeChat article",
    "board": "公示栏 Board sheet",
}
# The channel that carries each renderer's output to its audience.
RENDERER_CHANNELS = {"web": "site", "card": "telegram", "newspaper": "newspaper",
                     "ticker": "ticker", "sms": "sms", "wechat": "wechat", "board": "board"}
STATE_FILTERS = {
    "invalid": "有错误",
    PublicityState.running.value: PublicityState.running.label,
    PublicityState.not_started.value: PublicityState.not_started.label,
    PublicityState.ended.value: PublicityState.ended.label,
    PublicityState.none.value: PublicityState.none.label,
    Status.draft.value: Status.draft.label,
    Status.withdrawn.value: Status.withdrawn.label,
}


# -- the index -------------------------------------------------------------------------------

@dataclass
class IndexRow:
    entry: NoticeEntry
    notice: Notice | None
    publicity: PublicityState | None
    channels: tuple[str, ...]
    delivered: list[DeliveryRow]

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class Filters:
    area: str = ""
    kind: str = ""
    state: str = ""

    @property
    def active(self) -> bool:
        return bool(self.area or self.kind or self.state)


def index_view(snapshot: Snapshot, filters: Filters) -> dict[str, Any]:
    ledger = read_ledger(snapshot.project.config)
    rows = [_row(snapshot, entry, ledger) for entry in snapshot.entries.values()]
    shown = [row for row in rows if _matches(row, filters)]
    areas = _area_options(snapshot, rows)
    return {
        "rows": shown, "total": len(rows), "filters": filters, "ledger": ledger,
        "areas": areas, "kinds": [(k.value, k.label) for k in Kind],
        "states": list(STATE_FILTERS.items()),
        "invalid_count": sum(1 for r in rows if not r.entry.valid),
    }


def _row(snapshot: Snapshot, entry: NoticeEntry, ledger: LedgerView) -> IndexRow:
    notice = entry.shown
    return IndexRow(
        entry=entry, notice=notice,
        publicity=notice.publicity_state(snapshot.today) if notice else None,
        channels=snapshot.channels(notice) if notice else (),
        delivered=ledger.of(entry.id))


def _matches(row: IndexRow, filters: Filters) -> bool:
    notice = row.notice
    if filters.area and not (notice and (notice.area == filters.area
                                         or notice.area.startswith(filters.area + "/"))):
        return False
    if filters.kind and not (notice and notice.kind.value == filters.kind):
        return False
    if filters.state:
        if filters.state == "invalid":
            return not row.entry.valid
        if filters.state in (Status.draft.value, Status.withdrawn.value):
            return bool(notice and notice.status.value == filters.state)
        return bool(row.publicity and row.publicity.value == filters.state)
    return True


def _area_options(snapshot: Snapshot, rows: list[IndexRow]) -> list[tuple[str, str]]:
    areas = list(snapshot.project.config.known_areas())
    for row in rows:
        if row.notice:
            areas.extend(a for a in row.notice.area_chain if a not in areas)
    return [(area, "\u3000" * area.count("/") + area.rsplit("/", 1)[-1]) for area in areas]


# -- the notice desk -------------------------------------------------------------------------

@dataclass
class Panel:
    """One audience's output on the desk."""

    name: str
    title: str
    status: RendererStatus
    outputs: RendererOutputs
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    channel: str | None = None  # the channel that would carry it, if this notice uses it
    unused_channel: str | None = None  # the channel it would go by, which this notice skips

    @property
    def empty(self) -> bool:
        return not self.outputs.files


def notice_view(snapshot: Snapshot, notice_id: str) -> dict[str, Any] | None:
    entry = snapshot.entry(notice_id)
    if entry is None:
        return None
    ledger = read_ledger(snapshot.project.config)
    row = _row(snapshot, entry, ledger)
    panels: list[Panel] = []
    if entry.valid:
        reader = OutputReader(snapshot.out_dir)
        for name, status in snapshot.renderers.items():
            outputs = reader.outputs(name, notice_id)
            panel = Panel(name, RENDERER_TITLES.get(name, name), status, outputs,
                          problems=[p for p in entry.render_problems
                                    if p.startswith(f"{name}:")])
            channel = RENDERER_CHANNELS.get(name)
            if channel in row.channels:
                panel.channel = channel
            elif channel is not None:
                panel.unused_channel = channel
            describe = PANEL_DATA.get(name)
            if describe is not None and status.available:
                panel.data = describe(reader, outputs, snapshot, entry)
            panels.append(panel)
    return {"entry": entry, "row": row, "notice": entry.notice, "panels": panels,
            "ledger": ledger, "channel_states": _channel_states(row)}


def _channel_states(row: IndexRow) -> list[tuple[str, list[DeliveryRow]]]:
    return [(channel, [d for d in row.delivered if d.channel == channel])
            for channel in row.channels]


def _web(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
         entry: NoticeEntry) -> dict[str, Any]:
    page = outputs.find("/index.html", "index.html") or outputs.find(".html")
    return {"page": page}


def _card(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
          entry: NoticeEntry) -> dict[str, Any]:
    images = sorted(outputs.all(".png"), key=lambda f: ("1920" not in f.name, f.name))
    caption = outputs.find("caption.txt")
    return {"images": images, "caption": reader.text(caption)}


def _newspaper(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
               entry: NoticeEntry) -> dict[str, Any]:
    proof = outputs.find("proof.png") or outputs.find(".png")
    block_file = outputs.find("block.json")
    block = reader.json(block_file) or {}
    if not block and proof is not None:
        block = dict(proof.meta)
    return {"proof": proof, "pdf": outputs.find(".pdf"), "block": block,
            "facts": _block_facts(block)}


def _block_facts(block: dict[str, Any]) -> list[tuple[str, str]]:
    """The editor's facts about a block, whatever the renderer called its keys."""
    facts: list[tuple[str, str]] = []

    def pick(label: str, *keys: str, unit: str = "") -> None:
        for key in keys:
            value = block.get(key)
            if isinstance(value, dict):
                value = value.get("ok", value.get("status", value))
            if value is not None and value != "":
                facts.append((label, f"{value}{unit}"))
                return

    pick("fit 排得下", "fit", "fits", "fit_status")
    pick("columns 占栏", "grid_columns", "columns", "block_columns")
    pick("text columns 文字栏", "text_columns")
    pick("body 正文字号", "body_pt", "body_size_pt", "body_size", unit=" pt")
    pick("width 宽", "width_mm", unit=" mm")
    pick("height 高", "height_mm", unit=" mm")
    pick("over 超出", "overflow_mm", "over_mm", unit=" mm")
    pick("room 余量", "room_mm", unit=" mm")
    return facts


def _ticker(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
            entry: NoticeEntry) -> dict[str, Any]:
    line = outputs.find("line.txt")
    return {
        "line": reader.text(line),
        "strip": outputs.find(".gif") or outputs.find("preview.gif", collection=True)
        or outputs.find(".gif", collection=True),
        "tv": outputs.find("tv.html", collection=True),
        "own_gif": outputs.find(".gif"),
    }


def _sms(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
         entry: NoticeEntry) -> dict[str, Any]:
    from pipeline.preview.digests import digests_for

    message = reader.json(outputs.find("sms.json")) or {}
    return {"message": _sms_message(message),
            "digests": digests_for(snapshot, reader, outputs, entry)}


def _sms_message(data: dict[str, Any]) -> dict[str, Any]:
    """parts, encoding and the count of each part, tolerant of the renderer's key names."""
    parts = data.get("parts") or []
    counts = data.get("part_units") or data.get("units_per_part") or data.get("counts") or []
    rows = []
    for index, part in enumerate(parts):
        text = part.get("text", "") if isinstance(part, dict) else str(part)
        count = (part.get("units") if isinstance(part, dict) else None) or (
            counts[index] if index < len(counts) else len(text.encode("utf-16-le")) // 2)
        rows.append({"text": text, "units": count})
    return {"parts": rows, "encoding": data.get("encoding", ""),
            "units": data.get("units"), "segments": data.get("segments", len(rows)),
            "text": data.get("text", "")}


WECHAT_EVENTS = {"publish": "发布 publish", "correction": "更正 correction",
                 "withdrawal": "撤回 withdrawal"}


def _wechat(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
            entry: NoticeEntry) -> dict[str, Any]:
    """The article as a subscriber's phone lists it (cover, title, digest), per event."""
    article = reader.json(outputs.find("article.json")) or {}
    variants = article.get("variants") or {}
    shown = [{"event": event, "label": label, **variants[event]}
             for event, label in WECHAT_EVENTS.items() if isinstance(variants.get(event), dict)]
    return {"cover": outputs.find("thumb.png"), "page": outputs.find("article.html"),
            "variants": shown, "source_url": article.get("content_source_url")}


def _board(reader: OutputReader, outputs: RendererOutputs, snapshot: Snapshot,
           entry: NoticeEntry) -> dict[str, Any]:
    """The sheet as the board carries it (a proof per page), and which board that is."""
    sheet = reader.json(outputs.find("sheet.json")) or {}
    labels = {"notice": "公示", "correction": "更正公示", "withdrawal": "撤回公告"}
    facts = [(label, str(value)) for label, value in (
        ("sheet 类别", labels.get(sheet.get("sheet", ""), sheet.get("sheet"))),
        ("paper 纸张", sheet.get("paper")), ("pages 页数", sheet.get("pages")),
        ("body 正文字号", f"{sheet['body_pt']} pt" if "body_pt" in sheet else None),
        ("fit 排版", sheet.get("fit"))) if value not in (None, "")]
    notice = entry.notice
    boards = [b for b in snapshot.project.config.channels.board.boards
              if notice is not None and b.area == notice.area]
    return {"proofs": sorted(outputs.all(".png"), key=lambda f: (len(f.name), f.name)),
            "pdf": outputs.find("sheet.pdf"), "facts": facts,
            "boards": [f"{b.name or b.area} · {b.clerk}" for b in boards]}


PANEL_DATA = {"web": _web, "card": _card, "newspaper": _newspaper, "ticker": _ticker,
              "sms": _sms, "wechat": _wechat, "board": _board}

__all__ = ["Filters", "OutputFile", "index_view", "notice_view"]
