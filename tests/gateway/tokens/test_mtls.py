"""Organisation certificates authenticate back-office systems: ``tls_client_auth`` (RFC 8705
§2.1) with the certificate the load balancer forwards in ``Client-Cert`` (RFC 9440 §2), and
access tokens bound to it (RFC 8705 §3).

A gateway over real HTTP with 127.0.0.1 as its trusted proxy stands in for the deployment
behind a balancer: the tests send ``Client-Cert`` as the balancer would, and from 127.0.0.2
as a caller who reaches the gateway directly would.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.authority import ORG_URN_PREFIX
from gateway.clients.errors import InvalidClientRegistrationError
from gateway.clients.models import ClientRegistration
from gateway.core.settings import Settings
from gateway.organisations.services import OrganisationService
from gateway.organisations.store import OrganisationStore
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import new_organisation, public_jwk, registration
from tests.gateway.delivery.support import Exchange, exchange, submit
from tests.support.clock import MovableClock
from tests.support.servers import threaded_gateway

MESSAGING = "/api/messaging/v1/conversations"


@pytest.fixture(scope="module")
def mtls_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"trusted_proxies": ["127.0.0.1/32"], "client_cert_header": True}
    )


@pytest.fixture(scope="module")
def mtls_url(mtls_settings: Settings) -> Iterator[str]:
    with threaded_gateway(mtls_settings) as base_url:
        yield base_url


@pytest.fixture
async def balancer(mtls_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Requests as the trusted load balancer (127.0.0.1) forwards them."""
    async with httpx.AsyncClient(base_url=mtls_url, timeout=10) as client:
        yield client


@pytest.fixture
async def back_office(runtime: Runtime) -> tuple[str, str]:
    """An organisation and its tls_client_auth client."""
    org_id = await new_organisation(runtime)
    return org_id, await _api_client(runtime, org_id)


def _csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "back office")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def _field(certificate: x509.Certificate) -> str:
    """RFC 9440 §2: the DER as an RFC 8941 byte sequence."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return ":" + base64.b64encode(der).decode() + ":"


def _x5t(field: str) -> str:
    digest = hashlib.sha256(base64.b64decode(field.strip(":"))).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _certificate(runtime: Runtime, org_id: str) -> tuple[str, str]:
    """A certificate the organisations CA issues to ``org_id``: its Client-Cert value and
    serial."""
    record = await runtime.organisations.issue_certificate(org_id, _csr(), TEST_ACTOR)
    return _field(x509.load_pem_x509_certificate(record.pem.encode())), record.serial


async def _api_client(
    runtime: Runtime, org_id: str, scope: str = "submissions", method: str = "tls_client_auth"
) -> str:
    """A back-office client (client credentials) of ``org_id``."""
    data = registration(
        org_id,
        token_endpoint_auth_method=method,
        jwks=None,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope=scope,
    )
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return issued.client.client_id


async def _token(
    http: httpx.AsyncClient, client_id: str, certificate: str | None
) -> httpx.Response:
    headers = {} if certificate is None else {"Client-Cert": certificate}
    form = {"grant_type": "client_credentials", "client_id": client_id}
    return await http.post("/token", data=form, headers=headers)


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _refused(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    return str(body["error_description"])


def _forged(org_id: str, *, issuer: x509.Name) -> str:
    """A certificate shaped exactly like the organisations CA's, for ``org_id``, but signed by
    another CA that copies its name."""
    ca_key = ec.generate_private_key(ec.SECP384R1())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, org_id)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(ORG_URN_PREFIX + org_id)]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _field(certificate)


async def _bound_sender(
    balancer: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> tuple[Exchange, str, str, str]:
    """A routing rule whose sender organisation has a tls_client_auth client: the exchange,
    the client, its certificate and the token it got with it."""
    ex = await exchange(balancer, runtime, admin_headers)
    client_id = await _api_client(runtime, ex.sender.org_id, scope="submissions messages")
    certificate, _ = await _certificate(runtime, ex.sender.org_id)
    response = await _token(balancer, client_id, certificate)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    return ex, client_id, certificate, str(response.json()["access_token"])


async def test_a_back_office_system_with_its_certificate_submits_and_messages(
    balancer: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex, client_id, certificate, token = await _bound_sender(balancer, runtime, admin_headers)
    assert _claims(token)["cnf"] == {"x5t#S256": _x5t(certificate)}

    headers = {"Authorization": f"Bearer {token}", "Client-Cert": certificate}
    submitted = await submit(balancer, headers, ex.request())
    assert submitted.status_code == 202, submitted.text
    stored = await runtime.delivery.submissions.stored(submitted.json()["id"])
    assert stored is not None
    listed = await balancer.get(MESSAGING, headers=headers)
    assert listed.status_code == 200, listed.text

    # RFC 8705 §3.2: introspection shows the binding, to the client itself.
    form = {"token": token, "client_id": client_id}
    answer = await balancer.post("/introspect", data=form, headers={"Client-Cert": certificate})
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True and answer.json()["token_type"] == "Bearer"
    assert answer.json()["cnf"] == {"x5t#S256": _x5t(certificate)}


async def test_the_bound_token_without_its_certificate_or_with_another_is_refused(
    balancer: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    ex, _, certificate, token = await _bound_sender(balancer, runtime, admin_headers)
    # A second valid certificate of the same organisation is still not the bound one.
    other, _ = await _certificate(runtime, ex.sender.org_id)
    bearer = {"Authorization": f"Bearer {token}"}

    detail = _refused(await submit(balancer, bearer, ex.request()), 401, "invalid_token")
    assert "x5t#S256" in detail
    refused = await submit(balancer, {**bearer, "Client-Cert": other}, ex.request())
    assert "other than the one presented" in _refused(refused, 401, "invalid_token")
    listed = await balancer.get(MESSAGING, headers={**bearer, "Client-Cert": other})
    _refused(listed, 401, "invalid_token")
    garbled = await balancer.get(MESSAGING, headers={**bearer, "Client-Cert": "not-base64"})
    _refused(garbled, 401, "invalid_token")
    assert (await balancer.get(MESSAGING, headers=bearer)).status_code == 401
    # The same token with its certificate still works: nothing above was a false refusal.
    listed = await balancer.get(MESSAGING, headers={**bearer, "Client-Cert": certificate})
    assert listed.status_code == 200, listed.text


async def test_the_header_is_believed_only_from_a_trusted_proxy(
    mtls_url: str, http: httpx.AsyncClient, runtime: Runtime, back_office: tuple[str, str]
) -> None:
    org_id, client_id = back_office
    certificate, _ = await _certificate(runtime, org_id)
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=mtls_url, transport=transport, timeout=10) as direct:
        detail = _refused(await _token(direct, client_id, certificate), 401, "invalid_client")
    assert "none reached the gateway" in detail
    # A gateway with the setting off ignores it from everyone, 127.0.0.1 included.
    detail = _refused(await _token(http, client_id, certificate), 401, "invalid_client")
    assert "none reached the gateway" in detail


async def test_certificates_the_gateway_must_not_accept_are_refused(
    balancer: httpx.AsyncClient, runtime: Runtime, back_office: tuple[str, str]
) -> None:
    org_id, client_id = back_office
    valid, _ = await _certificate(runtime, org_id)
    ca = x509.load_pem_x509_certificate(runtime.authority.orgs_ca_pem())

    forged = _forged(org_id, issuer=ca.subject)
    detail = _refused(await _token(balancer, client_id, forged), 401, "invalid_client")
    assert "not issued by the GovConnect organisations CA" in detail

    other_org = await new_organisation(runtime)
    theirs, _ = await _certificate(runtime, other_org)
    detail = _refused(await _token(balancer, client_id, theirs), 401, "invalid_client")
    assert f"belongs to organisation {other_org}" in detail

    revoked, serial = await _certificate(runtime, org_id)
    await runtime.organisations.revoke_certificate(org_id, serial, "keyCompromise", TEST_ACTOR)
    detail = _refused(await _token(balancer, client_id, revoked), 401, "invalid_client")
    assert "revoked" in detail

    for malformed in ("MIIB", ":not base64!:", ":" + base64.b64encode(b"junk").decode() + ":"):
        detail = _refused(await _token(balancer, client_id, malformed), 401, "invalid_client")
        assert "RFC 9440" in detail
    two = await balancer.post(
        "/token",
        data={"grant_type": "client_credentials", "client_id": client_id},
        headers=[("Client-Cert", valid), ("Client-Cert", valid)],
    )
    _refused(two, 401, "invalid_client")
    # The organisation's own valid certificate still works.
    assert (await _token(balancer, client_id, valid)).status_code == 200


async def test_an_expired_certificate_is_refused(
    balancer: httpx.AsyncClient, runtime: Runtime, back_office: tuple[str, str]
) -> None:
    org_id, client_id = back_office
    # Issued and registered like any other, three days ago for one day, so only its validity
    # period can refuse it.
    last_week = OrganisationService(
        OrganisationStore(runtime.redis),
        MovableClock(datetime.now(UTC) - timedelta(days=3)),
        runtime.evidence,
        runtime.authority,
        certificate_days=1,
        crl_validity_hours=24,
    )
    record = await last_week.issue_certificate(org_id, _csr(), TEST_ACTOR)
    expired = _field(x509.load_pem_x509_certificate(record.pem.encode()))
    detail = _refused(await _token(balancer, client_id, expired), 401, "invalid_client")
    assert "outside its validity period" in detail


async def test_a_secret_client_is_not_authenticated_by_a_certificate_alone(
    balancer: httpx.AsyncClient, runtime: Runtime
) -> None:
    org_id = await new_organisation(runtime)
    client_id = await _api_client(runtime, org_id, method="client_secret_basic")
    certificate, _ = await _certificate(runtime, org_id)
    _refused(await _token(balancer, client_id, certificate), 401, "invalid_client")


async def test_discovery_lists_certificate_authentication_only_where_it_works(
    balancer: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    on = (await balancer.get("/.well-known/openid-configuration")).json()
    for name in ("token", "introspection", "revocation"):
        assert "tls_client_auth" in on[f"{name}_endpoint_auth_methods_supported"]
    assert on["tls_client_certificate_bound_access_tokens"] is True
    off = (await http.get("/.well-known/openid-configuration")).json()
    assert "tls_client_auth" not in off["token_endpoint_auth_methods_supported"]
    assert "tls_client_certificate_bound_access_tokens" not in off


@pytest.mark.parametrize(
    "overrides",
    [
        {"grant_types": ["authorization_code"]},
        {
            "jwks": {"keys": [public_jwk()]},
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
        },
    ],
)
def test_a_tls_client_auth_registration_is_a_back_office_one(overrides: dict[str, Any]) -> None:
    data = registration(token_endpoint_auth_method="tls_client_auth", jwks=None)
    with pytest.raises(InvalidClientRegistrationError, match="tls_client_auth"):
        ClientRegistration.build({**data, **overrides})
