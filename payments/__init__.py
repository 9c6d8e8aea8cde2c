"""Payment collection compatible with the GOV.UK Pay public API (DESIGN.md §5)."""
