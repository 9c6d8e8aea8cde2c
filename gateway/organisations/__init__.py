"""The registry of connected organisations and the client certificates issued to them."""
