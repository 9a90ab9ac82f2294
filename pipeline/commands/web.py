"""Commands of the web feature (registered on `pipeline.cli.cli`)."""
