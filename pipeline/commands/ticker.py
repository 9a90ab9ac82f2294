"""Commands of the ticker feature (registered on `pipeline.cli.cli`)."""
