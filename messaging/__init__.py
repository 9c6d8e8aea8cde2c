"""Secure two-way messaging inboxes between citizens and council services (DESIGN.md §4)."""
