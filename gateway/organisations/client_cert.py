"""Organisation certificates forwarded by the load balancer (RFC 9440), checked again here.

TLS ends at the balancer, which asks back-office systems for a client certificate, verifies
it and forwards it in the ``Client-Cert`` header field: an RFC 8941 §3.3.5 byte sequence,
``:<base64 of the DER>:`` (RFC 9440 §2). The header is believed only from
``GOVCONNECT_TRUSTED_PROXIES`` and only with ``GOVCONNECT_CLIENT_CERT_HEADER`` on
(:class:`ForwardedCertificateMiddleware`); from anyone else it is dropped before any route
sees it.

:class:`ClientCertificates` then checks for itself that the certificate was issued by the
organisations CA, is within its validity and is one the registry issued and has not revoked,
and names its organisation. :func:`thumbprint` is the ``x5t#S256`` that binds access tokens
to it (RFC 8705 §3.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.types import ASGIApp, Receive, Scope, Send

from certs.authority import ORG_URN_PREFIX, CertificateAuthority
from gateway.core.clock import Clock
from gateway.organisations.errors import ClientCertificateError
from gateway.organisations.models import CertificateStatus, format_serial
from gateway.organisations.store import OrganisationStore

HEADER = b"client-cert"
# Where the middleware leaves a believed header's value for the routes (an ASGI scope key).
SCOPE_KEY = "govconnect.client_cert"
# A DER certificate from the organisations CA is under 1 KiB; RSA 4096 keys and long names
# stay far below this.
MAX_HEADER_LENGTH = 16_384

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class OrganisationCertificate:
    """A client certificate the organisations CA issued to ``org_id``, valid and unrevoked
    when checked."""

    org_id: str
    serial: str  # lowercase hex, as the registry writes it
    subject: str  # RFC 4514
    thumbprint: str  # x5t#S256: base64url SHA-256 of the DER (RFC 8705 §3.1)


def forwarded(scope: Scope) -> str | None:
    """The ``Client-Cert`` value the middleware believed for this request, if any."""
    value = scope.get(SCOPE_KEY)
    return value if isinstance(value, str) else None


def certificate_der(value: str) -> bytes:
    """The DER of an RFC 9440 §2 ``Client-Cert`` field value: one RFC 8941 §3.3.5 byte
    sequence (``:`` base64 ``:``); parameters after it are ignored (RFC 9440 §2)."""
    item = value.strip(" \t")
    if len(item) > MAX_HEADER_LENGTH or not item.startswith(":"):
        raise ClientCertificateError(_MALFORMED)
    encoded, colon, parameters = item[1:].partition(":")
    if not colon or (parameters and not parameters.startswith(";")):
        raise ClientCertificateError(_MALFORMED)
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ClientCertificateError(_MALFORMED) from None
    if not der:
        raise ClientCertificateError(_MALFORMED)
    return der


def thumbprint(der: bytes) -> str:
    """``x5t#S256`` (RFC 8705 §3.1): base64url, unpadded, of the SHA-256 of the DER."""
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_MALFORMED = (
    "The Client-Cert header is not one base64 DER certificate between colons "
    "(RFC 9440 §2, RFC 8941 §3.3.5)."
)


class ClientCertificates:
    """Checks a forwarded certificate against the organisations CA and the registry."""

    def __init__(
        self, authority: CertificateAuthority, store: OrganisationStore, clock: Clock
    ) -> None:
        self._authority = authority
        self._store = store
        self._clock = clock
        self._issuer: x509.Certificate | None = None

    async def verify(self, value: str) -> OrganisationCertificate:
        """The organisation a ``Client-Cert`` value proves, after RFC 5280 §6.1.3's basic
        checks against the organisations CA (signature, issuer, validity) and the registry's
        revocation status; :class:`ClientCertificateError` says what failed."""
        der = certificate_der(value)
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise ClientCertificateError(_MALFORMED) from None
        try:
            certificate.verify_directly_issued_by(self._ca())
        except (ValueError, TypeError, InvalidSignature):
            raise ClientCertificateError(
                "The client certificate was not issued by the GovConnect organisations CA; "
                "connect with the certificate 'govconnect orgs issue-cert' gave you."
            ) from None
        now = self._clock.now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise ClientCertificateError(
                "The client certificate is outside its validity period "
                f"({certificate.not_valid_before_utc.isoformat()} to "
                f"{certificate.not_valid_after_utc.isoformat()}); ask for a new one."
            )
        _check_client_auth(certificate)
        org_id = _organisation(certificate)
        serial = format_serial(certificate.serial_number)
        record = await self._store.certificate(org_id, serial)
        if record is None or record.fingerprint != certificate.fingerprint(hashes.SHA256()).hex():
            raise ClientCertificateError(
                f"The client certificate {serial} is not in the organisations registry."
            )
        if record.status is CertificateStatus.REVOKED:
            raise ClientCertificateError(
                f"The client certificate {serial} of organisation {org_id} was revoked at "
                f"{record.revoked_at}; use a new certificate."
            )
        return OrganisationCertificate(
            org_id=org_id,
            serial=serial,
            subject=certificate.subject.rfc4514_string(),
            thumbprint=thumbprint(der),
        )

    def _ca(self) -> x509.Certificate:
        if self._issuer is None:
            self._issuer = x509.load_pem_x509_certificate(self._authority.orgs_ca_pem())
        return self._issuer


def _check_client_auth(certificate: x509.Certificate) -> None:
    """RFC 5280 §4.2.1.12: a certificate for TLS client authentication, not a CA."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        usages, ca = None, True
    if usages is None or ca or ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise ClientCertificateError(
            "The client certificate is not an end-entity certificate for TLS client "
            "authentication (RFC 5280 §4.2.1.9, §4.2.1.12)."
        )


def _organisation(certificate: x509.Certificate) -> str:
    """The organisation id the CA wrote into the SAN as ``urn:govconnect:org:<id>``."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        names = None
    uris = [] if names is None else names.value.get_values_for_type(x509.UniformResourceIdentifier)
    ids = [uri.removeprefix(ORG_URN_PREFIX) for uri in uris if uri.startswith(ORG_URN_PREFIX)]
    if len(ids) != 1 or not ids[0]:
        raise ClientCertificateError(
            f"The client certificate names no organisation ({ORG_URN_PREFIX}<id> in its "
            "subjectAltName)."
        )
    return ids[0]


class ForwardedCertificateMiddleware:
    """Believes ``Client-Cert`` (RFC 9440 §2) only from the trusted proxies.

    Must wrap :class:`~uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware`, which
    replaces ``scope["client"]`` with the forwarded address: here it is still the peer, the
    balancer itself. Every ``Client-Cert`` line is taken out of the headers; a trusted peer's
    value is left under :data:`SCOPE_KEY` (several lines joined, which no check accepts).
    """

    def __init__(self, app: ASGIApp, *, trusted: Sequence[str]) -> None:
        """``trusted``: the CIDRs of ``GOVCONNECT_TRUSTED_PROXIES``."""
        self.app = app
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in trusted
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            values = [value for name, value in headers if name == HEADER]
            if values:
                scope["headers"] = [(name, value) for name, value in headers if name != HEADER]
                if self._from_trusted(scope.get("client")):
                    scope[SCOPE_KEY] = b", ".join(values).decode("latin-1")
        await self.app(scope, receive, send)

    def _from_trusted(self, client: tuple[str, int] | None) -> bool:
        # NOTE: a peer that is not a trusted proxy may send any Client-Cert it likes; it is
        # dropped, so only the balancer that terminated the caller's TLS can assert one.
        if client is None:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted)
