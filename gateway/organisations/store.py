"""STUB."""

from gateway.core.redis import RedisClient


class OrganisationStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
