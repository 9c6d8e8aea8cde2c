"""Certificate signing requests (RFC 2986) for tests: good ones, and each way one goes wrong."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

PrivateKey = CertificateIssuerPrivateKeyTypes

# A name the CA must ignore, and bytes in the signed part that tamper() changes.
CSR_COMMON_NAME = "tamper-me"

# Made with 'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha1' (its key was
# thrown away): cryptography itself refuses to sign anything with SHA-1.
SHA1_CSR = b"""-----BEGIN CERTIFICATE REQUEST-----
MIHMMHUCAQAwEzERMA8GA1UEAwwIc2hhMS1jc3IwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASdtj2tg/1rQ0t2kBv8tVVpRq+eA80PAAVjDGuwYJeqRHi7dFxiCONp
q8H2mG+wyG1ef8g39POfu/8a+Bq8SgueoAAwCQYHKoZIzj0EAQNIADBFAiEAtl/i
PsP1jdOxNtQSMfxKeJFgco8c4Pz8pku3eCqU3P0CIHV5FSPb7O3JOg2y8RYWF2hH
DzvJk/Trx2SWSa3H4ONk
-----END CERTIFICATE REQUEST-----
"""


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(key: PrivateKey | None = None) -> bytes:
    """A PEM CSR signed by ``key`` (a new P-256 key by default), asking for a name it won't get."""
    key = key or p256()
    algorithm = (
        None
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        else hashes.SHA256()
    )
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Somebody Else"),
                    x509.NameAttribute(NameOID.COMMON_NAME, CSR_COMMON_NAME),
                ]
            )
        )
        .sign(key, algorithm)
    )
    return request.public_bytes(serialization.Encoding.PEM)


def tampered(csr_pem: bytes) -> bytes:
    """The same CSR with one byte of its signed content changed: the signature no longer holds."""
    der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)
    changed = der.replace(CSR_COMMON_NAME.encode(), b"tamper-m3")
    assert changed != der
    return x509.load_der_x509_csr(changed).public_bytes(serialization.Encoding.PEM)


def rsa_1024_csr() -> bytes:
    return make_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 - refusing it is the point
