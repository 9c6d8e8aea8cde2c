"""Facts about the installation itself: schema version and whether demo data was seeded."""
