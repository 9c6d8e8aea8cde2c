"""The JWKS and the key archive over real HTTP: public keys only, cacheable for 300 s."""

from __future__ import annotations

import httpx

from gateway.runtime import Runtime

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def test_jwks_route_publishes_the_public_keys_with_cache_control(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/json"
    keys = response.json()["keys"]
    kids = {k["kid"] for k in keys}
    assert {runtime.keys.current("ES256").kid, runtime.keys.current("RS256").kid} <= kids
    assert response.json() == runtime.keys.jwks()
    assert all(not PRIVATE_MEMBERS & k.keys() for k in keys)


async def test_archive_route_is_a_public_key_set_with_the_same_caching(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await http.get("/pki/signing-keys-archive.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.json() == runtime.keys.archive()


async def test_key_routes_need_no_authentication(http: httpx.AsyncClient) -> None:
    """Relying parties fetch the JWKS anonymously (OIDC Discovery ``jwks_uri``)."""
    for path in ("/.well-known/jwks.json", "/pki/signing-keys-archive.json"):
        response = await http.get(path, headers={"Authorization": "Bearer nonsense"})
        assert response.status_code == 200
