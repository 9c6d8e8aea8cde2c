"""Programs that use GovConnect the way a council or department would (see README.md)."""
