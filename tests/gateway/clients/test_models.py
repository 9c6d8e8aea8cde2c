"""Registration rules: each refusal names the field and says what to do; valid input is kept
exactly as given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc.jwk import ECKey, OKPKey

from gateway.clients.errors import InvalidClientRegistrationError
from gateway.clients.models import (
    AuthMethod,
    Client,
    ClientRegistration,
    ClientUpdate,
    GrantType,
    IdTokenAlg,
)
from tests.gateway.clients.support import public_jwk, registration, rsa_public_jwk


def refusal(**overrides: Any) -> str:
    with pytest.raises(InvalidClientRegistrationError) as caught:
        ClientRegistration.build(registration(**overrides))
    return caught.value.detail


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "http-on-a-public-host": (
        {"redirect_uris": ["http://council.example/cb"]},
        "redirect_uris[0] 'http://council.example/cb' must use https (http is allowed only on "
        "loopback hosts",
    ),
    "fragment": (
        {"redirect_uris": ["https://council.example/cb#done"]},
        "redirect_uris[0] 'https://council.example/cb#done' must not contain a fragment",
    ),
    "wildcard": (
        {"redirect_uris": ["https://*.council.example/cb"]},
        "contains a wildcard '*'",
    ),
    "userinfo": (
        {"redirect_uris": ["https://user:pw@council.example/cb"]},
        "must not contain a user name or password",
    ),
    "relative": ({"redirect_uris": ["/callback"]}, "'/callback' is not an absolute URI"),
    "custom-scheme": (
        {"redirect_uris": ["council.example.app:/cb"]},
        "must use https; other schemes (council.example.app:) are not accepted",
    ),
    "too-long": (
        {"redirect_uris": ["https://council.example/" + "a" * 2000]},
        "the limit is 2000",
    ),
    "duplicate": (
        {"redirect_uris": ["https://council.example/cb", "https://council.example/cb"]},
        "redirect_uris[1] 'https://council.example/cb' is listed twice",
    ),
    "post-logout-http": (
        {"post_logout_redirect_uris": ["http://council.example/bye"]},
        "post_logout_redirect_uris[0] 'http://council.example/bye' must use https",
    ),
    "backchannel-fragment": (
        {"backchannel_logout_uri": "https://council.example/logout#x"},
        "backchannel_logout_uri 'https://council.example/logout#x' must not contain a fragment",
    ),
    "unknown-auth-method": (
        {"token_endpoint_auth_method": "none"},
        "token_endpoint_auth_method: Input should be 'private_key_jwt', 'client_secret_basic', "
        "'client_secret_post' or 'tls_client_auth'",
    ),
    "jwks-not-a-set": ({"jwks": {"kty": "EC"}}, "jwks must be a JWK Set: an object with a"),
    "jwks-bad-base64": (
        {"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "@@", "y": "@@"}]}},
        "jwks.keys[0] is not a valid EC public key",
    ),
    "jwks-point-off-curve": (
        {"jwks": {"keys": [{**public_jwk(), "y": public_jwk()["y"]}]}},
        "jwks.keys[0] is not a valid EC public key",
    ),
    "jwks-private-key": (
        {"jwks": {"keys": [ECKey.generate_key("P-256", private=True).as_dict(private=True)]}},
        "jwks.keys[0] contains private or secret key material (d); register only the public key",
    ),
    "jwks-symmetric-key": (
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        "jwks.keys[0] contains private or secret key material (k)",
    ),
    "jwks-rsa-1024": (
        {"jwks": {"keys": [rsa_public_jwk(1024)]}},
        "jwks.keys[0] is an RSA key of 1024 bits; use at least 2048 bits",
    ),
    "jwks-encryption-key": (
        {"jwks": {"keys": [{**public_jwk(), "use": "enc"}]}},
        "jwks.keys[0] has use 'enc'",
    ),
    "jwks-key-agreement-curve": (
        {"jwks": {"keys": [OKPKey.generate_key("X25519", private=False).as_dict(private=False)]}},
        "jwks.keys[0] has crv 'X25519'; OKP keys must use Ed25519",
    ),
    "jwks-repeated-kid": (
        {"jwks": {"keys": [public_jwk("a"), public_jwk("a")]}},
        "jwks.keys[1] repeats kid 'a'",
    ),
    "private-key-jwt-without-keys": (
        {"jwks": None},
        "private_key_jwt needs exactly one of jwks",
    ),
    "private-key-jwt-with-both": (
        {"jwks_uri": "https://council.example/jwks.json"},
        "both were given",
    ),
    "jwks-uri-http": (
        {"jwks": None, "jwks_uri": "http://127.0.0.1/jwks.json"},
        "jwks_uri 'http://127.0.0.1/jwks.json' must use https",
    ),
    "secret-method-with-keys": (
        {"token_endpoint_auth_method": "client_secret_post"},
        "client_secret_post authenticates with a shared secret, so it takes no jwks",
    ),
    "several-hosts-without-sector": (
        {"redirect_uris": ["https://a.council.example/cb", "https://b.council.example/cb"]},
        "redirect_uris span several hosts (a.council.example, b.council.example); set "
        "sector_identifier",
    ),
    "sector-as-url": (
        {"sector_identifier": "https://council.example/"},
        "must be a host name such as council.example, not a URL",
    ),
    "invalid-min-level": ({"min_level": "Cl.P9"}, "min_level: 'P9' is not an identity level"),
    "malformed-min-level": ({"min_level": "gold"}, "min_level: 'gold' is not a vector of trust"),
    "code-grant-without-redirect": ({"redirect_uris": []}, "needs at least one redirect URI"),
    "refresh-token-alone": (
        {"grant_types": ["client_credentials", "refresh_token"], "redirect_uris": []},
        "refresh_token is issued only with authorization_code or token exchange",
    ),
    "redirect-without-code-grant": (
        {"grant_types": ["client_credentials"]},
        "redirect_uris is used only when people sign in",
    ),
    "scope-with-quote": ({"scope": 'openid "email"'}, "scope 'openid \"email\"' must be"),
    "scope-double-space": ({"scope": "openid  email"}, "separated by single spaces"),
    "unknown-field": ({"redirect_uri": "https://x.example/"}, "redirect_uri is not a client"),
    "empty-name": ({"client_name": ""}, "client_name: String should have at least 1 character"),
}


@pytest.mark.parametrize(("overrides", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_invalid_registrations_are_refused_with_an_actionable_message(
    overrides: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(**overrides)


def test_every_refusal_is_listed_with_its_location() -> None:
    with pytest.raises(InvalidClientRegistrationError) as caught:
        ClientRegistration.build(
            registration(redirect_uris=["http://council.example/cb"], scope="a\\b")
        )
    locations = [e["location"] for e in caught.value.extensions["errors"]]
    assert locations == ["redirect_uris", "scope"]
    assert "redirect_uris[0]" in caught.value.detail and "scope 'a\\\\b'" in caught.value.detail


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:8080/callback", "http://localhost/callback", "http://[::1]:5000/cb"],
    ids=["ipv4", "localhost", "ipv6"],
)
def test_plain_http_is_accepted_on_loopback_hosts(uri: str) -> None:
    """RFC 8252 §7.3 / RFC 9700 §2.1: loopback redirects are the one place for http."""
    assert ClientRegistration.build(registration(redirect_uris=[uri])).redirect_uris == [uri]


def test_redirect_uris_are_kept_exactly_as_given() -> None:
    """No normalisation: the authorization endpoint compares by exact string."""
    uris = [
        "HTTPS://Permits.Anytown.example:443/Call%2Fback?x=1&y=2",
        "https://permits.anytown.example/b",
    ]
    built = ClientRegistration.build(registration(redirect_uris=uris))
    assert built.redirect_uris == uris


def test_defaults_follow_the_brief() -> None:
    built = ClientRegistration.build(registration())
    assert built.grant_types == [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN]
    assert built.scope == "openid"
    assert built.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert built.id_token_signed_response_alg is IdTokenAlg.ES256
    assert (built.first_party, built.require_par, built.require_dpop) == (False, False, False)


def test_the_sector_defaults_to_the_single_redirect_host() -> None:
    built = ClientRegistration.build(
        registration(
            redirect_uris=["https://permits.anytown.example/a", "https://permits.anytown.example/b"]
        )
    )
    assert built.sector_identifier is None
    assert built.sector == "permits.anytown.example"


def test_a_given_sector_groups_several_hosts_and_is_lower_cased() -> None:
    built = ClientRegistration.build(
        registration(
            redirect_uris=["https://a.anytown.example/cb", "https://b.anytown.example/cb"],
            sector_identifier="Anytown.Example",
        )
    )
    assert built.sector == "anytown.example"


def test_a_client_credentials_client_needs_no_redirect_uri() -> None:
    built = ClientRegistration.build(
        registration(grant_types=["client_credentials"], redirect_uris=[], scope="submissions")
    )
    assert built.redirect_uris == [] and built.sector is None


def test_min_level_is_stored_in_canonical_form() -> None:
    built = ClientRegistration.build(registration(min_level="P2.Cl.Cm"))
    assert built.min_level == "Cl.Cm.P2"


@pytest.mark.parametrize(
    "key",
    [
        rsa_public_jwk(2048),
        ECKey.generate_key("P-384", private=False).as_dict(private=False),
        OKPKey.generate_key("Ed25519", private=False).as_dict(private=False),
    ],
    ids=["rsa-2048", "ec-p384", "ed25519"],
)
def test_the_allowed_public_key_types_are_accepted(key: dict[str, Any]) -> None:
    built = ClientRegistration.build(registration(jwks={"keys": [key]}))
    assert built.jwks == {"keys": [key]}


def test_an_update_that_sets_jwks_uri_drops_the_jwks() -> None:
    changes = ClientUpdate.build({"jwks_uri": "https://council.example/jwks.json"}).changes()
    assert changes == {"jwks_uri": "https://council.example/jwks.json", "jwks": None}


def test_an_update_to_a_secret_method_drops_both_key_sources() -> None:
    changes = ClientUpdate.build({"token_endpoint_auth_method": "client_secret_basic"}).changes()
    assert changes["jwks"] is None and changes["jwks_uri"] is None


def test_an_update_refuses_unknown_fields() -> None:
    with pytest.raises(InvalidClientRegistrationError, match="client_secret is not a client"):
        ClientUpdate.build({"client_secret": "chosen-by-me"})


def test_client_json_never_carries_the_secret_hash() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    client = Client.from_registration(
        "cli_" + "B" * 22,
        ClientRegistration.build(
            registration(token_endpoint_auth_method="client_secret_basic", jwks=None)
        ),
        secret_hash="f" * 64,
        created_at=now,
        updated_at=now,
    )
    assert "secret_hash" not in client.to_json()
    assert "f" * 64 not in str(client.to_json())
