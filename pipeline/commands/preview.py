"""Commands of the preview feature (registered on `pipeline.cli.cli`)."""
