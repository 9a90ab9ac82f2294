"""The CLI's feature commands, one module each; `pipeline.cli` imports them all."""
