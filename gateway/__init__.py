"""GovConnect: a gateway that gives councils and departments one trust model.

The ``gateway`` package holds the HTTP application, the OpenID Connect provider, the
registries of organisations and clients, the signing keys and the delivery engine. Shared
infrastructure (settings, the Redis connection, problem responses, middleware) lives in
:mod:`gateway.core`.
"""

__version__ = "0.1.0"
