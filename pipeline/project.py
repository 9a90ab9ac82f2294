"""A site project: its config, its content folder, its templates and where outputs go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment

from pipeline.config import CONFIG_NAME, Config, find_config, load_config
from pipeline.templating import make_environment, template_dirs


@dataclass(frozen=True)
class Project:
    root: Path
    config: Config
    config_path: Path | None

    @classmethod
    def open(cls, start: Path | None = None, config_path: Path | None = None) -> Project:
        """The project whose noticecast.yaml is at ``config_path`` or above ``start``."""
        start = (start or Path.cwd()).resolve()
        path = config_path or find_config(start)
        root = path.parent.resolve() if path else start
        return cls(root=root, config=load_config(path, display_root=root), config_path=path)

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def cache_dir(self) -> Path:
        """Build caches live inside out/: a build writes nowhere else."""
        return self.out_dir / ".cache"

    @property
    def state_dir(self) -> Path:
        """The ledger and the publish lock; only `publish` writes here."""
        return self.root / ".noticecast"

    @property
    def template_dirs(self) -> tuple[Path, ...]:
        return template_dirs(self.root)

    @property
    def templates(self) -> Environment:
        return make_environment(self.template_dirs)

    def today(self, override: date | None = None) -> date:
        return override or datetime.now(self.config.zone).date()

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)


__all__ = ["CONFIG_NAME", "Project"]
