"""Registrations and keys that the client registry tests build on."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey

from gateway.organisations.models import NewOrganisation, OrganisationKind
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR


def public_jwk(kid: str = "key-1") -> dict[str, Any]:
    """A fresh EC P-256 public key as a JWK, the kind a council registers."""
    key = ECKey.generate_key("P-256", private=False)
    return {**key.as_dict(private=False), "kid": kid, "use": "sig"}


def rsa_public_jwk(bits: int) -> dict[str, Any]:
    """An RSA public key of ``bits`` bits, built with cryptography so that a deliberately weak
    test key does not trip joserfc's own warning."""
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


def registration(organisation_id: str = "org_" + "A" * 22, **overrides: Any) -> dict[str, Any]:
    """A valid private_key_jwt web client registration, with ``overrides`` applied."""
    data: dict[str, Any] = {
        "client_name": "Anytown Council: apply for a parking permit",
        "organisation_id": organisation_id,
        "redirect_uris": ["https://permits.anytown.example/callback"],
        "jwks": {"keys": [public_jwk()]},
    }
    data.update(overrides)
    return data


def secret_registration(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid client_secret_basic registration (development only)."""
    return registration(
        organisation_id, token_endpoint_auth_method="client_secret_basic", jwks=None, **overrides
    )


async def new_organisation(runtime: Runtime) -> str:
    """Register an organisation through its own service; returns its id."""
    organisation = await runtime.organisations.add(
        NewOrganisation(
            name="Anytown Council",
            kind=OrganisationKind.COUNCIL,
            contact_email="digital@anytown.example",
        ),
        TEST_ACTOR,
    )
    return organisation.id
