"""The gateway's signing keys: an ES256 and an RSA family, rotated together, and their JWKS.

:class:`~gateway.signing.services.KeyRing` signs and verifies JWTs and rotates the keys kept
in one file (:mod:`gateway.signing.store`); :mod:`gateway.signing.routes` publishes the public
halves. DESIGN.md §1.6.
"""
