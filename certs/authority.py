"""The development certificate authority of the trust model: files, keys, certificates, CRLs.

Three certificate/key pairs live in one folder (``GOVCONNECT_PKI_DIR``, default
``certs/generated/``):

- ``root-ca`` — the trust anchor (RFC 5280 §6.1.1 (d)): a self-signed EC P-384 CA that signs
  only the two certificates below. The gateway never reads its private key.
- ``orgs-ca`` — the organisations' intermediate CA (``pathLenConstraint`` 0): it signs every
  organisation's client certificate and the CRL that revokes them.
- ``tls`` — a server certificate for ``localhost`` so a development gateway can serve https.

Everything here is pure cryptography and files: no store, no clock (callers pass ``now``), no
HTTP. Profiles follow RFC 5280 §4.2 (certificate extensions) and §5 (CRLs); certification
requests are PKCS #10 (RFC 2986).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.core.errors import ConfigurationError
from gateway.organisations.errors import InvalidCsrError

ROOT_CERT, ROOT_KEY = "root-ca.pem", "root-ca.key"
ORGS_CERT, ORGS_KEY = "orgs-ca.pem", "orgs-ca.key"
TLS_CERT, TLS_KEY = "tls.pem", "tls.key"

ROOT_DAYS = 3650
ORGS_CA_DAYS = 1826
TLS_DAYS = 365

# A PKCS #10 request with the largest key we accept is about 3 KiB of PEM; anything far beyond
# that is not a CSR and is refused before parsing.
MAX_CSR_BYTES = 16_384
MIN_RSA_BITS = 2048
ACCEPTED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
ACCEPTED_CSR_HASHES = {"sha256", "sha384", "sha512"}
# ub-organization-name, RFC 5280 Appendix A.1.
MAX_ORGANIZATION_NAME = 64

ORG_URN_PREFIX = "urn:govconnect:org:"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the organisations CA signed, with the facts the registry keeps."""

    serial: int
    pem: str
    fingerprint: str  # SHA-256 of the DER, lowercase hex
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class _Material:
    root_pem: bytes
    orgs_pem: bytes
    orgs_cert: x509.Certificate
    orgs_key: ec.EllipticCurvePrivateKey
    orgs_ski: x509.SubjectKeyIdentifier


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GovConnect (development)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signature_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ski(certificate: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first byte; fail if anything is already there.

    ``O_EXCL`` also refuses a planted symlink, and the mode is set at creation so a private key
    is never readable by others, not even between an open and a chmod.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_pair(
    directory: Path, names: tuple[str, str], cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> list[str]:
    cert_name, key_name = names
    # NOTE: development keys are stored unencrypted (PKCS #8, mode 0600) so the gateway can
    # start unattended; production keeps the signing key in a KMS/HSM (see certs/README.md).
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key first: a crash in between leaves a key without a certificate, which
    # initialise() reports rather than silently pairing a new certificate with a stale key.
    _write_new(directory / key_name, key_pem, 0o600)
    _write_new(directory / cert_name, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return [cert_name, key_name]


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(
            f"{path} is not an EC private key; move the folder aside and "
            "run 'govconnect init' again"
        )
    return key


def _new_root(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed trust anchor: RFC 5280 §4.2.1.9 (cA, pathLen 1) and §4.2.1.3."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = _name("GovConnect Development Root CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=ROOT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return cert, key


def _issued_by_root(
    builder: x509.CertificateBuilder,
    key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """Adds what every certificate under the root carries (RFC 5280 §4.2.1.1, §4.2.1.2)."""
    return (
        builder.issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(root)),
            critical=False,
        )
        .sign(root_key, hashes.SHA384())
    )


def _new_orgs_ca(
    now: datetime, root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The issuing CA for organisations: pathLenConstraint 0 (RFC 5280 §4.2.1.9)."""
    key = ec.generate_private_key(ec.SECP384R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("GovConnect Development Organisations CA"))
        .not_valid_before(now)
        .not_valid_after(min(now + timedelta(days=ORGS_CA_DAYS), root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
    )
    return _issued_by_root(builder, key, root, root_key), key


def _new_tls(
    now: datetime, root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A localhost server certificate: SAN per RFC 5280 §4.2.1.6, EKU serverAuth §4.2.1.12."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .not_valid_before(now)
        .not_valid_after(min(now + timedelta(days=TLS_DAYS), root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_signature_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(IPv4Address("127.0.0.1")),
                    x509.IPAddress(IPv6Address("::1")),
                ]
            ),
            critical=False,
        )
    )
    return _issued_by_root(builder, key, root, root_key), key


def _parse_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    if len(csr_pem) > MAX_CSR_BYTES:
        raise InvalidCsrError(
            f"The CSR is {len(csr_pem)} bytes; a PEM certificate signing request is a few "
            f"kilobytes at most (limit {MAX_CSR_BYTES})."
        )
    if b"PRIVATE KEY" in csr_pem:
        raise InvalidCsrError(
            "This is a private key, not a certificate signing request. Never send a private "
            "key to anyone: treat this one as compromised, make a new key and send a CSR "
            "made from it (for example 'openssl req -new -key new.key')."
        )
    if b"-----BEGIN CERTIFICATE-----" in csr_pem:
        raise InvalidCsrError(
            "This is a certificate, not a certificate signing request. Send a PEM CSR "
            "('-----BEGIN CERTIFICATE REQUEST-----') made with 'openssl req -new'."
        )
    try:
        return x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise InvalidCsrError(
            "The CSR is not a PEM-encoded PKCS #10 certificate signing request (RFC 2986). "
            "It must start with '-----BEGIN CERTIFICATE REQUEST-----'; make one with "
            "'openssl req -new -key your.key'."
        ) from exc


def _accepted_public_key(
    csr: x509.CertificateSigningRequest,
) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidCsrError(
            "The CSR's public key is of a type the gateway cannot read; use EC P-256 or "
            "P-384, RSA of at least 2048 bits, or Ed25519."
        ) from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ACCEPTED_CURVES:
            raise InvalidCsrError(
                f"The CSR's EC key is on curve {key.curve.name}; use P-256 (secp256r1) or "
                "P-384 (secp384r1)."
            )
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidCsrError(
                f"The CSR's RSA key is {key.key_size} bits; use at least {MIN_RSA_BITS}."
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InvalidCsrError(
        f"The CSR's {type(key).__name__.removesuffix('PublicKey')} key is not accepted; use "
        "EC P-256 or P-384, RSA of at least 2048 bits, or Ed25519."
    )


def _check_proof_of_possession(csr: x509.CertificateSigningRequest) -> None:
    """RFC 2986 §3: the request is signed with the private key of the key it carries."""
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise InvalidCsrError(
            "The CSR is signed with an algorithm the gateway does not accept; sign it with "
            "SHA-256 or stronger."
        ) from exc
    if algorithm is not None and algorithm.name not in ACCEPTED_CSR_HASHES:
        raise InvalidCsrError(
            f"The CSR is signed with {algorithm.name.upper()}; sign it with SHA-256 or stronger "
            "(openssl req -new -sha256)."
        )
    if not csr.is_signature_valid:
        raise InvalidCsrError(
            "The CSR's signature does not verify with the public key it carries, so it does "
            "not prove you hold the private key. Make the CSR again from the private key "
            "(openssl req -new -key your.key) and send it unchanged."
        )


class CertificateAuthority:
    """The root and organisations CAs in one folder, loaded on first use.

    Building one never touches the disk: the gateway builds it at start-up, which may be
    before ``govconnect init`` has created the files. The first operation that needs them reads
    them, or raises :class:`ConfigurationError` saying how to create them.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._material: _Material | None = None

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        return cls(directory)

    @classmethod
    def initialise(cls, directory: Path) -> list[str]:
        """Create whichever of the root, organisations and TLS pairs are missing.

        Idempotent: returns the names of the files it created, and an empty list when every
        file was already there. A certificate without its key (or a key without its
        certificate), or CAs below a root that has gone, are refused rather than patched over.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        pairs = {
            "root": (ROOT_CERT, ROOT_KEY),
            "orgs": (ORGS_CERT, ORGS_KEY),
            "tls": (TLS_CERT, TLS_KEY),
        }
        present: dict[str, bool] = {}
        for label, (cert_name, key_name) in pairs.items():
            cert_there, key_there = (
                (directory / cert_name).exists(),
                (directory / key_name).exists(),
            )
            if cert_there != key_there:
                missing = key_name if cert_there else cert_name
                raise ConfigurationError(
                    f"{directory / missing} is missing but its pair is present; restore it, or "
                    f"delete the other half and run 'govconnect init' again"
                )
            present[label] = cert_there
        if all(present.values()):
            return []
        now = datetime.now(UTC).replace(microsecond=0)
        created: list[str] = []
        if present["root"]:
            root = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
            root_key = _read_key(directory / ROOT_KEY)
        else:
            if present["orgs"] or present["tls"]:
                raise ConfigurationError(
                    f"{directory / ROOT_CERT} is missing but certificates it issued remain; move "
                    f"{directory} aside and run 'govconnect init' again to start a new hierarchy"
                )
            root, root_key = _new_root(now)
            created += _write_pair(directory, pairs["root"], root, root_key)
        if not present["orgs"]:
            orgs, orgs_key = _new_orgs_ca(now, root, root_key)
            created += _write_pair(directory, pairs["orgs"], orgs, orgs_key)
        if not present["tls"]:
            tls, tls_key = _new_tls(now, root, root_key)
            created += _write_pair(directory, pairs["tls"], tls, tls_key)
        return created

    def _loaded(self) -> _Material:
        if self._material is None:
            self._material = self._read()
        return self._material

    def _read(self) -> _Material:
        paths = [self._directory / name for name in (ROOT_CERT, ORGS_CERT, ORGS_KEY)]
        missing = [path.name for path in paths if not path.exists()]
        if missing:
            raise ConfigurationError(
                f"The certificate authority's files ({', '.join(missing)}) are not in "
                f"{self._directory}; run 'govconnect init' to create them."
            )
        root_pem, orgs_pem = paths[0].read_bytes(), paths[1].read_bytes()
        root = x509.load_pem_x509_certificate(root_pem)
        orgs = x509.load_pem_x509_certificate(orgs_pem)
        try:
            orgs.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ConfigurationError(
                f"{paths[1]} was not issued by {paths[0]}; the folder mixes two hierarchies. "
                f"Move {self._directory} aside and run 'govconnect init' again."
            ) from exc
        # NOTE: the issuing key is held in process memory for the life of the gateway; in
        # production it stays in a KMS/HSM and only signing requests cross to it.
        return _Material(root_pem, orgs_pem, orgs, _read_key(paths[2]), _ski(orgs))

    def root_ca_pem(self) -> bytes:
        """The trust anchor relying parties install (RFC 5280 §6.1.1 (d))."""
        return self._loaded().root_pem

    def orgs_ca_pem(self) -> bytes:
        """The intermediate that issues organisation certificates and signs the CRL."""
        return self._loaded().orgs_pem

    def sign_csr(
        self, csr_pem: bytes, *, org_id: str, org_name: str, now: datetime, days: int
    ) -> IssuedCertificate:
        """Issue an organisation's TLS client certificate from its PKCS #10 request (RFC 2986).

        The request must prove possession of its key (a valid self-signature, §3) and carry an
        accepted key. Everything else in it is ignored: the CA sets the subject (O = the
        organisation's name, CN = its id), the SAN URI ``urn:govconnect:org:<id>``
        (RFC 5280 §4.2.1.6), EKU clientAuth (§4.2.1.12), keyUsage digitalSignature (§4.2.1.3),
        AKI/SKI (§4.2.1.1, §4.2.1.2) and a random positive serial of at most 159 bits (§4.1.2.2).
        The certificate never outlives the organisations CA.
        """
        csr = _parse_csr(csr_pem)
        public_key = _accepted_public_key(csr)
        _check_proof_of_possession(csr)
        material = self._loaded()
        not_before = now.astimezone(UTC).replace(microsecond=0)
        not_after = min(not_before + timedelta(days=days), material.orgs_cert.not_valid_after_utc)
        if not_after <= not_before:
            raise ConfigurationError(
                f"The organisations CA in {self._directory} has expired; issue a new one."
            )
        # A long name is shortened rather than refused: the CN and SAN carry the identity.
        organisation = org_name[:MAX_ORGANIZATION_NAME]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                        x509.NameAttribute(NameOID.COMMON_NAME, org_id),
                    ]
                )
            )
            .issuer_name(material.orgs_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_signature_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(ORG_URN_PREFIX + org_id)]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(material.orgs_ski),
                critical=False,
            )
            .sign(material.orgs_key, hashes.SHA384())
        )
        return IssuedCertificate(
            serial=certificate.serial_number,
            pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )

    def build_crl(
        self,
        revoked: Sequence[tuple[int, datetime, str | None]],
        *,
        now: datetime,
        validity_hours: int,
    ) -> bytes:
        """A DER CRL (RFC 5280 §5) signed by the organisations CA.

        ``revoked`` holds (serial, revocation time, reason) where the reason is an RFC 5280
        §5.3.1 ``CRLReason`` name such as ``keyCompromise``. Per §5.3.1 the reasonCode is
        left out for ``unspecified`` or no reason. The cRLNumber (§5.2.3) is the issue time in
        milliseconds, so it increases across every gateway process without shared state.
        """
        material = self._loaded()
        this_update = now.astimezone(UTC).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(material.orgs_cert.subject)
            .last_update(this_update)
            .next_update(this_update + timedelta(hours=validity_hours))
            .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(material.orgs_ski),
                critical=False,
            )
        )
        for serial, revoked_at, reason in revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(revoked_at.astimezone(UTC).replace(microsecond=0))
            )
            if reason is not None and reason != x509.ReasonFlags.unspecified.value:
                entry = entry.add_extension(
                    x509.CRLReason(x509.ReasonFlags(reason)), critical=False
                )
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(material.orgs_key, hashes.SHA384())
        return crl.public_bytes(serialization.Encoding.DER)
