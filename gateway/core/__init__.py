"""Infrastructure every package shares: settings, store connection, errors, HTTP plumbing."""
