"""One notice's outputs, read back from the preview's cache folder and arranged for the desk.

The build's manifest says which files each renderer wrote for a notice (and for its collection);
this module picks out the ones each audience sees (the page, the cards, the proof, the strip, the
texts) by name, and keeps the full file list too, so that a renderer that names a file
differently still shows up. Text outputs (captions, ticker lines, SMS JSON, block metadata) are
read here; binary ones are linked through the app's /out/ route.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.build import COLLECTION, Manifest, safe_output_path
from pipeline.errors import RenderError

MAX_TEXT_BYTES = 512 * 1024


@dataclass(frozen=True)
class OutputFile:
    renderer: str
    path: str  # relative to <cache>/<renderer>/, with '/'
    sha256: str
    media_type: str
    meta: dict[str, Any]

    @property
    def url(self) -> str:
        # The hash in the query makes a changed image a changed URL (and a changed page section).
        return f"/out/{self.renderer}/{self.path}?v={self.sha256[:12]}"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@dataclass
class RendererOutputs:
    name: str
    files: list[OutputFile] = field(default_factory=list)
    collection: list[OutputFile] = field(default_factory=list)

    def find(self, *suffixes: str, collection: bool = False) -> OutputFile | None:
        for record in self.collection if collection else self.files:
            if record.path.endswith(suffixes):
                return record
        return None

    def all(self, *suffixes: str, collection: bool = False) -> list[OutputFile]:
        pool = self.collection if collection else self.files
        return [r for r in pool if r.path.endswith(suffixes)]


class OutputReader:
    """Reads the cache folder of one snapshot; cheap to make, one per request."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.manifest = Manifest(out_dir / ".cache" / "manifest.json")

    def outputs(self, renderer: str, notice_id: str) -> RendererOutputs:
        return RendererOutputs(renderer, self._records(renderer, notice_id),
                               self._records(renderer, COLLECTION))

    def _records(self, renderer: str, key: str) -> list[OutputFile]:
        return [OutputFile(renderer, r["path"], r["sha256"], r.get("media_type", ""),
                           dict(r.get("meta") or {}))
                for r in self.manifest.files(renderer, key)]

    def text(self, record: OutputFile | None) -> str | None:
        if record is None:
            return None
        try:
            path = safe_output_path(self.out_dir / record.renderer, record.path)
            data = path.read_bytes()[:MAX_TEXT_BYTES]
        except (OSError, RenderError):
            return None
        return data.decode("utf-8", errors="replace")

    def json(self, record: OutputFile | None) -> Any:
        text = self.text(record)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None
