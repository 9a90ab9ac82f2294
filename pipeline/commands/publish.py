"""Commands of the publish feature (registered on `pipeline.cli.cli`)."""
