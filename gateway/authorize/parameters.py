"""Reading the parameters of an authorization request, one at a time (OIDC Core §3.1.2.1,
RFC 6749 §3.3, RFC 7636 §4.3, RFC 9449 §10). Each raises ``InvalidRequestError`` (or
``InvalidScopeError``) with a sentence the client's developers can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gateway.clients.models import Client
from gateway.oidc.errors import InvalidRequestError, InvalidScopeError

PROMPTS = ("none", "login", "consent", "select_account")
# RFC 7636 §4.2: BASE64URL(SHA-256(verifier)) is exactly 43 characters; RFC 9449 §10 uses
# the same form for the JWK thumbprint in dpop_jkt.
_S256 = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_STATE = 4096
MAX_NONCE = 4096  # long enough for a hash-of-a-hash nonce scheme; bounded so Redis stays small
MAX_LOGIN_HINT = 254  # an email address (RFC 5321 §4.5.3.1.3)
MAX_CLAIMS_CHARS = 8192
MAX_AGE_LIMIT = 2**31 - 1
_CLAIM_TARGETS = ("userinfo", "id_token")


def text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequestError(f"{name} must be a string.")


def bounded(fields: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = text(fields, name)
    if value is not None and len(value) > limit:
        raise InvalidRequestError(f"{name} is longer than {limit} characters.")
    return value


def parse_scope(client: Client, requested: str | None) -> tuple[str, ...]:
    """RFC 6749 §3.3; ``openid`` is required: every request here is an OpenID Connect
    authentication request (OIDC Core §3.1.2.1 leaves the rest unspecified)."""
    scopes = tuple(dict.fromkeys((requested or "").split()))
    if "openid" not in scopes:
        raise InvalidScopeError("scope must include openid (OIDC Core §3.1.2.1).")
    unregistered = [s for s in scopes if s not in client.scope.split()]
    if unregistered:
        raise InvalidScopeError(
            f"This client is not registered for {', '.join(unregistered)}; its scopes are "
            f"{client.scope}."
        )
    return scopes


def parse_pkce(challenge: str | None, method: str | None) -> str:
    """RFC 7636 §4.3 with S256 only (RFC 9700 §2.1.1): ``plain`` offers no protection when
    the request itself leaks."""
    if challenge is None:
        raise InvalidRequestError(
            "code_challenge is missing: every client uses PKCE with S256 "
            "(RFC 7636, RFC 9700 §2.1.1)."
        )
    if method != "S256":
        raise InvalidRequestError(
            f"code_challenge_method must be S256, not {method or 'absent (plain)'!s}."
        )
    if not _S256.match(challenge):
        raise InvalidRequestError(
            "code_challenge must be BASE64URL(SHA-256(code_verifier)), 43 characters."
        )
    return challenge


def parse_prompt(value: str | None) -> frozenset[str]:
    prompts = frozenset((value or "").split())
    unknown = sorted(prompts - set(PROMPTS))
    if unknown:
        raise InvalidRequestError(
            f"prompt {', '.join(unknown)} is not supported; use {', '.join(PROMPTS)}."
        )
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError(
            "prompt=none cannot be combined with other values (OIDC Core §3.1.2.1)."
        )
    return prompts


def parse_max_age(value: object) -> int | None:
    if value is None:
        return None
    # A digit string longer than any allowed age is refused before int(), which raises past
    # 4300 digits (CVE-2020-10735's limit).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_AGE_LIMIT:
        raise InvalidRequestError("max_age must be a whole number of seconds, 0 or more.")
    return value


def parse_claims(value: object) -> dict[str, Any] | None:
    """OIDC Core §5.5: ``{"userinfo": {...}, "id_token": {...}}``, each claim null or an object
    with ``essential``, ``value`` or ``values``. A request object may carry it as an object."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_CLAIMS_CHARS:
            raise InvalidRequestError(f"claims is longer than {MAX_CLAIMS_CHARS} characters.")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the stack
            raise InvalidRequestError("claims is not JSON (OIDC Core §5.5).") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("claims must be a JSON object (OIDC Core §5.5).")
    kept: dict[str, Any] = {}
    for target in _CLAIM_TARGETS:
        wanted = value.get(target)
        if wanted is None:
            continue
        if not isinstance(wanted, dict) or not all(_claim_request(r) for r in wanted.values()):
            raise InvalidRequestError(
                f"claims.{target} must map claim names to null or to an object with essential, "
                "value or values (OIDC Core §5.5.1)."
            )
        kept[target] = wanted
    return kept


def _claim_request(request: object) -> bool:
    if request is None:
        return True
    if not isinstance(request, dict):
        return False
    if "essential" in request and not isinstance(request["essential"], bool):
        return False
    return "values" not in request or isinstance(request["values"], list)


def parse_dpop_jkt(value: str | None) -> str | None:
    """RFC 9449 §10: the base64url SHA-256 JWK thumbprint (RFC 7638) of the client's key."""
    if value is not None and not _S256.match(value):
        raise InvalidRequestError(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 §10)."
        )
    return value
