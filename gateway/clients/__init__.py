"""STUB."""
