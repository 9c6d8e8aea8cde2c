"""STUB."""

from dataclasses import dataclass
from pathlib import Path

from gateway.core.clock import Clock


@dataclass(frozen=True)
class SigningKey:
    kid: str


class KeyRing:
    def __init__(self, path: Path, clock: Clock, grace_seconds: int) -> None:
        self.path = path

    def current(self) -> SigningKey:
        return SigningKey("stub")
