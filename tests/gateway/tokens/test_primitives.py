"""The small pure functions the grants rest on, checked against the RFCs' own examples."""

from __future__ import annotations

from gateway.tokens.dpop import access_token_hash, normalised_uri
from gateway.tokens.grants import pkce_matches
from gateway.tokens.minting import left_half_hash, new_refresh_token, refresh_grant_id


def test_pkce_s256_matches_the_rfc_7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not pkce_matches(verifier + "x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_ath_matches_the_rfc_9449_example() -> None:
    # RFC 9449 §7.1: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" has
    # ath "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_at_hash_is_the_left_half_of_sha256() -> None:
    # OIDC Core §3.1.3.6: 128 bits, base64url: 22 characters.
    assert len(left_half_hash("token")) == 22


def test_htu_comparison_ignores_query_fragment_case_and_default_ports() -> None:
    assert normalised_uri("HTTPS://Gateway.Example:443/token?a=1#x") == (
        "https://gateway.example/token"
    )
    assert normalised_uri("http://127.0.0.1:8000/token") == "http://127.0.0.1:8000/token"
    assert normalised_uri("https://gateway.example") == "https://gateway.example/"
    assert normalised_uri("https://gateway.example/Token") != "https://gateway.example/token"


def test_a_refresh_token_names_its_family_and_junk_names_none() -> None:
    token = new_refresh_token("grt_abcdefghijklmnopqrstuv")
    assert refresh_grant_id(token) == "grt_abcdefghijklmnopqrstuv"
    for junk in ("", "grt_x", "grt_x.short", "{bad}." + "A" * 43, "." + "A" * 43):
        assert refresh_grant_id(junk) is None
