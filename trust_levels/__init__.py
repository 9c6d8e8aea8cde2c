"""The level model: credential strength and identity confidence, per GPG 44/45 (DESIGN.md §2).

Pure domain code: no HTTP and no store access in the level model itself.
"""
