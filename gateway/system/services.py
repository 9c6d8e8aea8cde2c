"""Checks on the installation that run before a gateway serves anything."""

from __future__ import annotations

from gateway.core.settings import Settings
from gateway.system.errors import DemoDataInProductionError
from gateway.system.store import SystemStore

DEMO = "demo"


class SystemService:
    def __init__(self, store: SystemStore) -> None:
        self._store = store

    async def mark_demo(self, when: str) -> None:
        """Record that demo data was seeded, so production can refuse this store."""
        await self._store.set(DEMO, when)

    async def demo_seeded(self) -> str | None:
        return await self._store.get(DEMO)

    async def check_startup(self, settings: Settings) -> None:
        """Refuse a production gateway with a development shortcut or a demo-seeded store."""
        settings.check_production()
        if settings.is_production and (seeded := await self.demo_seeded()):
            raise DemoDataInProductionError(
                f"refusing to start in production: this store holds demo data seeded at {seeded}; "
                "point GOVCONNECT_REDIS_URL at a store that was never seeded with --demo"
            )
