"""Commands of the card feature (registered on `pipeline.cli.cli`)."""
