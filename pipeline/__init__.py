"""noticecast: one public notice, written once, published to five audiences."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("noticecast")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
