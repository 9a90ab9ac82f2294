"""`noticecast` with the test channels of ``peers.fault_channels`` registered.

    python -m peers.publish_cli -C PROJECT publish --today 2018-07-08

(run with the repository and its tests/ folder on PYTHONPATH).
"""

from __future__ import annotations

from peers.fault_channels import register

register()

from pipeline.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
