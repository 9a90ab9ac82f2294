"""Configuration that loads but would make a channel go silent: warnings for `check`.

A channel that the config sends notices to but that has nobody to deliver to (an empty or
missing subscriber list, no notice boards) publishes nothing without failing; `check` says so,
so that an office hears of it before a publish run does nothing.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline import registry
from pipeline.errors import Location, NoticecastError, Problem
from pipeline.project import Project


def used_channels(project: Project) -> list[str]:
    """The channels some kind of notice goes to by the config (notices may name others)."""
    names = {name for kind in project.config.kind_channels for name in
             project.config.channels_for(kind)}
    return sorted(names)


def config_warnings(project: Project) -> list[Problem]:
    """A warning for each used channel that has no target, or whose targets have problems."""
    warnings: list[Problem] = []
    for name in used_channels(project):
        try:
            cls = registry.channel_class(name)
            channel = cls.from_config(project.config, sink=project.out_dir / "channels" / name)
            targets = list(channel.targets(project.config))
        except (NoticecastError, ImportError, OSError) as exc:
            warnings.append(Problem(Location(f"channel {name}"),
                                    f"cannot open the channel: {exc}", severity="warning"))
            continue
        problems = list(getattr(channel, "target_problems", ()))
        warnings.extend(replace(p, severity="warning") for p in problems)
        if not targets and not problems:
            warnings.append(Problem(Location(f"channel {name}"), (
                "has nothing to deliver to, so nothing will be published there; configure "
                f"its targets under channels.{name} in noticecast.yaml, or remove it from "
                "kind_channels"), severity="warning"))
    return warnings
