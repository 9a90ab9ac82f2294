"""noticecast: one public notice, written once, published to five audiences."""

# The one place the version is written; pyproject.toml reads it from here. A literal, because
# importlib.metadata costs 50 ms on every start of the command line.
__version__ = "0.1.0"
