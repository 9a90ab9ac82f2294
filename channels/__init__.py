"""Channel adapters: each takes finished artifacts and delivers them to one kind of target."""
