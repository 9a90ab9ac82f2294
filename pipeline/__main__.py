"""`python -m pipeline` runs the noticecast command line."""

from pipeline.cli import main

main()
