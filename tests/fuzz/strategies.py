"""Hypothesis strategies for hostile input: JOSE-shaped tokens (compact and JSON
serialization), JSON values with deep nesting, huge numbers and odd keys, and claim sets that
are almost right.

Each strategy aims at the code behind the first check: random bytes are refused by the
base64 step, so most tokens here are well-formed JWS whose header or claims are wrong, and
some are validly signed with a key the gateway knows, so the claim checks run too.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import Key

from tests.gateway.tokens.support import ANY_ALG

ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA", "HS256", "none", "ES512", "", "es256"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Scalars an attacker sends where a string, a number or a list is expected.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a" * 5000, "../../etc/passwd", "☃", "null", "[]"]),
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=12), children, max_size=5),
    ),
    max_leaves=30,
)


def deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    """A JSON document nested ``depth`` levels (Python's parser recurses per level)."""
    return opener * depth + closer * depth


hostile_json_text = st.one_of(
    json_values.map(json.dumps),
    st.integers(min_value=100, max_value=200_000).map(deep),
    st.integers(min_value=100, max_value=100_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(min_value=1_000, max_value=200_000).map(lambda n: "9" * n),
    st.sampled_from(['{"a": 1, "a": 2}', "1e999999", "-1e999999", "NaN", "Infinity", '"\\ud800"']),
    st.text(max_size=200),
)


# Fixed when the module loads: a strategy must draw from the same ranges on every example,
# or Hypothesis cannot replay and shrink a failure.
NOW = int(time.time())


def _time_claims() -> st.SearchStrategy[dict[str, Any]]:
    now = NOW
    times = st.one_of(
        st.integers(min_value=now - 10**6, max_value=now + 10**6),
        st.sampled_from([now, now + 60, now - 60, 0, -1, 2**63, 10**30]),
        scalars,
    )
    return st.fixed_dictionaries(
        {},
        optional={"iat": times, "exp": times, "nbf": times},
    )


def claim_sets(known: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Claims that start from ``known`` (a valid set) and break some of it: each claim kept,
    dropped, or replaced with a hostile value; time claims drawn around now; extra claims."""

    def build(choices: dict[str, Any], times: dict[str, Any], extra: dict[str, Any]) -> Any:
        claims = {**extra, **known, **times}
        for name, choice in choices.items():
            if choice == "drop":
                claims.pop(name, None)
            elif choice != "keep":
                claims[name] = choice[1]
        return claims

    per_claim = st.one_of(
        st.just("keep"),
        st.just("drop"),
        st.tuples(st.just("set"), json_values),
    )
    return st.builds(
        build,
        st.fixed_dictionaries(dict.fromkeys(known, per_claim)),
        _time_claims(),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    )


def headers(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Protected headers near ``base``: wrong alg/typ/kid, a ``crit`` nobody understands, an
    embedded ``jwk``/``jku``/``x5u`` to tempt a verifier into using the attacker's key."""
    return st.builds(
        lambda overrides: {**base, **overrides},
        st.fixed_dictionaries(
            {},
            optional={
                "alg": st.sampled_from(ALGORITHMS),
                "typ": st.sampled_from(["JWT", "dpop+jwt", "at+jwt", "oauth-authz-req+jwt", ""]),
                "kid": st.one_of(st.text(max_size=20), scalars),
                "crit": st.sampled_from([["exp"], ["bork"], [], "b64"]),
                "b64": st.booleans(),
                "jku": st.just("https://attacker.example/jwks"),
                "x5u": st.just("https://attacker.example/cert"),
                "zip": st.just("DEF"),
            },
        ),
    )


def signed(key: Key, header: dict[str, Any], claims: Any) -> str:
    """Sign with ES256 whatever the header claims, so the signature is valid only when the
    header says ES256: the verifier must decide on the header, not on a successful check."""
    payload = json.dumps(claims, default=str).encode()
    protected = {**header, "alg": "ES256"} if header.get("alg") == "ES256" else header
    try:
        compact = jws.serialize_compact(protected, payload, key, registry=ANY_ALG)
    except Exception:  # the header is hostile (an unknown alg): forge the signature instead
        return ".".join(
            [b64(json.dumps(protected, default=str).encode()), b64(payload), b64(b"\x00" * 64)]
        )
    return str(compact)


def unsigned_segments() -> st.SearchStrategy[str]:
    """Compact-looking strings that fail before any key is chosen: wrong segment counts,
    padding, non-base64, huge segments, JSON that is not an object."""
    segment = st.one_of(
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60
        ),
        st.just("e30"),  # {}
        st.builds(lambda v: b64(json.dumps(v).encode()), json_values),
        st.builds(lambda v: b64(v.encode()), hostile_json_text),
        st.sampled_from(["", "=", "e30=", "e30==", "****", "a" * 300_000]),
    )
    return st.lists(segment, min_size=0, max_size=6).map(".".join)


def tokens(key: Key, header: dict[str, Any], claims: dict[str, Any]) -> st.SearchStrategy[str]:
    """Every kind of hostile compact JWS aimed at one parser: garbage, forged, or validly
    signed with ``key`` around a ``header`` and ``claims`` that would pass."""
    return st.one_of(
        unsigned_segments(),
        st.builds(lambda h, c: signed(key, h, c), headers(header), claim_sets(claims)),
        st.builds(lambda h, c: signed(key, h, c), headers(header), json_values),
    )


def envelopes() -> st.SearchStrategy[dict[str, Any]]:
    """JWS JSON serialization objects (RFC 7515 §7.2): general or flattened, with members
    missing, duplicated or of the wrong type, and signatures that are not the gateway's."""
    protected = st.builds(
        lambda h: b64(json.dumps(h, default=str).encode()),
        headers({"alg": "ES256", "kid": "gateway-key"}),
    )
    member = st.fixed_dictionaries(
        {
            "protected": st.one_of(protected, scalars),
            "signature": st.one_of(st.text(max_size=90), scalars),
        },
        optional={"header": st.one_of(st.dictionaries(st.text(max_size=8), json_values), scalars)},
    )
    payload = st.one_of(st.builds(lambda v: b64(json.dumps(v).encode()), json_values), scalars)
    return st.one_of(
        st.fixed_dictionaries(
            {"payload": payload, "signatures": st.one_of(st.lists(member, max_size=4), scalars)}
        ),
        st.builds(lambda m, p: {**m, "payload": p}, member, payload),
    )
