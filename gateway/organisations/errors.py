"""Errors of the organisations registry and its certificate authority.

OrganisationError
├── OrganisationNotFoundError        (not-found: no organisation has that id)
├── DuplicateOrganisationCodeError   (conflict: another organisation holds the code)
├── InvalidCsrError                  (invalid: the CSR cannot be signed, and why)
├── CertificateNotFoundError         (not-found: the organisation has no such certificate)
├── CertificateAlreadyRevokedError   (conflict: revoked before; revocation is final)
├── InvalidRevocationReasonError     (invalid: not an RFC 5280 §5.3.1 reason we accept)
└── ClientCertificateError           (unauthenticated: a forwarded client certificate refused)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class OrganisationError(GovConnectError):
    slug = "organisation-error"
    title = "Organisation error"


class OrganisationNotFoundError(OrganisationError):
    category = Category.NOT_FOUND
    slug = "organisation-not-found"
    title = "Organisation not found"


class DuplicateOrganisationCodeError(OrganisationError):
    category = Category.CONFLICT
    slug = "duplicate-organisation-code"
    title = "Organisation code already registered"


class InvalidCsrError(OrganisationError):
    category = Category.INVALID
    slug = "invalid-csr"
    title = "Certificate signing request refused"


class CertificateNotFoundError(OrganisationError):
    category = Category.NOT_FOUND
    slug = "certificate-not-found"
    title = "Certificate not found"


class CertificateAlreadyRevokedError(OrganisationError):
    category = Category.CONFLICT
    slug = "certificate-already-revoked"
    title = "Certificate already revoked"


class InvalidRevocationReasonError(OrganisationError):
    category = Category.INVALID
    slug = "invalid-revocation-reason"
    title = "Invalid revocation reason"


class ClientCertificateError(OrganisationError):
    """A forwarded client certificate (RFC 9440) is malformed, not the organisations CA's,
    outside its validity, revoked or unknown; callers answer it as ``invalid_client`` or
    ``invalid_token`` (RFC 8705 §2, §3.1)."""

    category = Category.UNAUTHENTICATED
    slug = "client-certificate-refused"
    title = "Client certificate refused"
