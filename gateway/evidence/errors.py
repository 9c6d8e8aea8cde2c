"""Errors of the evidence log.

EvidenceError
└── ChainContentionError   (too many writers raced for the head; retry)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class EvidenceError(GovConnectError):
    slug = "evidence-error"
    title = "Evidence log error"


class ChainContentionError(EvidenceError):
    category = Category.UNAVAILABLE
    slug = "evidence-contention"
    title = "Evidence log busy"
