"""The public key documents: the JWKS relying parties verify with, and the archive.

Both routes are public, with no authentication: they hold public keys only, which RFC 7517
§5 and OIDC Discovery §3 (``jwks_uri``) expect anyone to fetch. They are plain ``def`` so
FastAPI runs them in its thread pool: the rare re-read of the key file after a rotation
then never blocks the event loop.

``Cache-Control: public, max-age=300`` is safe because a key is published as ``next`` one
whole rotation before it signs: a relying party's copy, at most five minutes old, already
holds the key that signs after a rotation, provided rotations are more than five minutes
apart (they are operator commands, run days or months apart). Retiring keys stay published
for the longest token lifetime, so a cached copy never lacks a key still in use, and a
relying party that does meet an unknown kid refetches (OIDC Core §10.1.1).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.core.deps import RuntimeDep

# RFC 7517 §8.5 registers application/jwk-set+json, but the major OpenID providers serve
# application/json and some relying-party libraries accept only that.
_MEDIA_TYPE = "application/json"
# Public keys, read cross-origin by client libraries running in browsers (as discovery is).
_CACHE = {
    "Cache-Control": "public, max-age=300",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}

router = APIRouter(tags=["keys"])


def _key_set(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document, media_type=_MEDIA_TYPE, headers=_CACHE)


@router.get("/.well-known/jwks.json", summary="Public signing keys (JWKS), no authentication")
def jwks(runtime: RuntimeDep) -> JSONResponse:
    """Current, next and retiring public keys, as an RFC 7517 §5 JWK Set."""
    return _key_set(runtime.keys.jwks())


@router.get(
    "/pki/signing-keys-archive.json",
    summary="Archived public signing keys, no authentication",
)
def signing_keys_archive(runtime: RuntimeDep) -> JSONResponse:
    """Retired keys' public JWKs, for checking long-lived signed receipts offline."""
    return _key_set(runtime.keys.archive())
