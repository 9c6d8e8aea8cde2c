"""Which claims about a person a token or userinfo response carries (OIDC Core §5.1, §5.4,
§5.5), taken from the account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.accounts.models import Account
from gateway.oidc.models import SCOPE_CLAIMS


def requested(
    scope: Iterable[str], claims_request: dict[str, Any] | None, target: str
) -> list[str]:
    """Claim names for ``target`` (``"userinfo"`` or ``"id_token"``).

    Scope claims go to userinfo only: with the code flow an ID token carries them only when
    the ``claims`` parameter asks for them there (OIDC Core §5.4, §5.5).
    """
    # NOTE: the claims parameter only chooses where granted claims go. It never widens what
    # the person agreed to: consent is given per scope, so a claim no granted scope covers is
    # dropped here, whatever the request asked for.
    granted = [claim for name in scope for claim in SCOPE_CLAIMS.get(name, ())]
    names: list[str] = list(granted) if target == "userinfo" else []
    asked = (claims_request or {}).get(target)
    if isinstance(asked, dict):
        names.extend(str(name) for name in asked if name in granted)
    return list(dict.fromkeys(names))


def account_claims(account: Account, names: Iterable[str]) -> dict[str, Any]:
    """The standard claims (OIDC Core §5.1) among ``names`` that the account holds; a claim
    it does not hold is left out, never sent empty (§5.3.2)."""
    held: dict[str, Any] = {
        "email": account.email,
        "email_verified": account.email_verified,
    }
    if account.phone is not None:
        held["phone_number"] = account.phone
        held["phone_number_verified"] = account.phone_verified
    if account.given_name:
        held["given_name"] = account.given_name
    if account.family_name:
        held["family_name"] = account.family_name
    full = " ".join(part for part in (account.given_name, account.family_name) if part)
    if full:
        held["name"] = full
    held["updated_at"] = int(account.updated_at.timestamp())
    return {name: held[name] for name in names if name in held}
