"""Errors about the installation as a whole.

ConfigurationError (gateway.core.errors)
└── DemoDataInProductionError
"""

from __future__ import annotations

from gateway.core.errors import ConfigurationError


class DemoDataInProductionError(ConfigurationError):
    slug = "demo-data-in-production"
    title = "Demo data in production"
