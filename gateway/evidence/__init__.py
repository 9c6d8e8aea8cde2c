"""The hash-chained evidence log: every state change, provably in order and untampered."""
