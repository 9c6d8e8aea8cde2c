"""Agents acting for clients: relationships a client accepted per service, and the checks behind
token exchange (RFC 8693) (DESIGN.md §2, "an intermediary")."""
