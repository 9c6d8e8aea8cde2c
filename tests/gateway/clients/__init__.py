"""The client registry: registration rules, secrets, the admin API."""
