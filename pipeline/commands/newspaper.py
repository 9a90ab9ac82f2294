"""Commands of the newspaper feature (registered on `pipeline.cli.cli`)."""
