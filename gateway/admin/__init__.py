"""Operators: admin API tokens and the authentication of every admin route."""
