"""Helpers the test suite shares: a real Redis, a live gateway over real HTTP, processes."""
