"""Notifications: the template catalogue, the local outbox, GOV.UK Notify."""
