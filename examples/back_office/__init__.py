"""Anytown Back Office: an example recipient of GovConnect submissions (push and pull)."""
