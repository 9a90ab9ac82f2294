"""Commands of the sms feature (registered on `pipeline.cli.cli`)."""
