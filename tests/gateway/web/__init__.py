"""The web pages: journeys over real HTTP, and in a real Chromium (Playwright, axe-core)."""
