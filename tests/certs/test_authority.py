"""The development CA: its files, certificate profiles (RFC 5280), CSR checks (RFC 2986), CRLs."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from certs.authority import (
    ORGS_CERT,
    ORGS_KEY,
    ROOT_CERT,
    ROOT_KEY,
    TLS_CERT,
    TLS_KEY,
    CertificateAuthority,
)
from gateway.core.errors import ConfigurationError
from gateway.organisations.errors import InvalidCsrError
from tests.certs.csrs import SHA1_CSR, PrivateKey, make_csr, rsa_1024_csr, tampered

E = TypeVar("E", bound=x509.ExtensionType)

ALL_FILES = [ROOT_CERT, ROOT_KEY, ORGS_CERT, ORGS_KEY, TLS_CERT, TLS_KEY]


@pytest.fixture(scope="module")
def authority(pki_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load(pki_dir)


def _cert(pem: bytes | str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def _ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def _sign(
    authority: CertificateAuthority,
    csr: bytes,
    *,
    org_id: str = "org_test",
    org_name: str = "Test Borough Council",
    now: datetime | None = None,
    days: int = 30,
) -> x509.Certificate:
    issued = authority.sign_csr(
        csr, org_id=org_id, org_name=org_name, now=now or datetime.now(UTC), days=days
    )
    return _cert(issued.pem)


def test_initialise_creates_every_file_once_and_then_nothing(tmp_path: Path) -> None:
    """initialise() is idempotent: a second run creates nothing and changes no byte."""
    directory = tmp_path / "pki"
    assert sorted(CertificateAuthority.initialise(directory)) == sorted(ALL_FILES)
    before = {name: (directory / name).read_bytes() for name in ALL_FILES}
    assert CertificateAuthority.initialise(directory) == []
    assert {name: (directory / name).read_bytes() for name in ALL_FILES} == before


def test_initialise_writes_private_keys_0600_in_a_0700_folder(tmp_path: Path) -> None:
    """Private keys are never readable by group or others; neither is the folder."""
    directory = tmp_path / "pki"
    CertificateAuthority.initialise(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in (ROOT_KEY, ORGS_KEY, TLS_KEY):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name


def test_initialise_recreates_only_the_missing_pair_under_the_same_root(tmp_path: Path) -> None:
    """A deleted TLS pair comes back, issued by the root that is already there."""
    directory = tmp_path / "pki"
    CertificateAuthority.initialise(directory)
    root_before = (directory / ROOT_CERT).read_bytes()
    (directory / TLS_CERT).unlink()
    (directory / TLS_KEY).unlink()
    assert sorted(CertificateAuthority.initialise(directory)) == sorted([TLS_CERT, TLS_KEY])
    assert (directory / ROOT_CERT).read_bytes() == root_before
    _cert((directory / TLS_CERT).read_bytes()).verify_directly_issued_by(_cert(root_before))


def test_initialise_refuses_a_certificate_whose_key_is_missing(tmp_path: Path) -> None:
    """Half a pair is reported, not silently re-paired with a new key."""
    directory = tmp_path / "pki"
    CertificateAuthority.initialise(directory)
    (directory / ORGS_KEY).unlink()
    with pytest.raises(ConfigurationError, match=ORGS_KEY):
        CertificateAuthority.initialise(directory)


def test_initialise_refuses_a_new_root_under_existing_cas(tmp_path: Path) -> None:
    """CAs issued by a root that has gone would not chain to a new one."""
    directory = tmp_path / "pki"
    CertificateAuthority.initialise(directory)
    (directory / ROOT_CERT).unlink()
    (directory / ROOT_KEY).unlink()
    with pytest.raises(ConfigurationError, match="govconnect init"):
        CertificateAuthority.initialise(directory)


def test_load_touches_no_disk_and_first_use_says_to_run_init(tmp_path: Path) -> None:
    """The gateway can build the CA before 'govconnect init'; using it then says what to do."""
    directory = tmp_path / "not-yet"
    authority = CertificateAuthority.load(directory)
    assert not directory.exists()
    with pytest.raises(ConfigurationError, match="run 'govconnect init'"):
        authority.root_ca_pem()


def test_root_and_organisations_ca_have_the_rfc_5280_ca_profile(
    authority: CertificateAuthority,
) -> None:
    """Root: cA, pathLen 1, P-384, ~10 years. Organisations CA: cA, pathLen 0, AKI = root SKI."""
    root, orgs = _cert(authority.root_ca_pem()), _cert(authority.orgs_ca_pem())
    for cert, path_length, years in ((root, 1, 10), (orgs, 0, 5)):
        constraints = _ext(cert, x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca
        assert constraints.value.path_length == path_length
        usage = _ext(cert, x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert abs(lifetime - timedelta(days=365 * years)) < timedelta(days=5)
    root.verify_directly_issued_by(root)
    orgs.verify_directly_issued_by(root)
    assert (
        _ext(orgs, x509.AuthorityKeyIdentifier).value.key_identifier
        == _ext(root, x509.SubjectKeyIdentifier).value.digest
    )


@pytest.mark.parametrize(
    "subject",
    [DNSName("localhost"), IPAddress(IPv4Address("127.0.0.1")), IPAddress(IPv6Address("::1"))],
    ids=["localhost", "127.0.0.1", "::1"],
)
def test_tls_certificate_verifies_as_a_server_for_each_loopback_name(
    pki_dir: Path, authority: CertificateAuthority, subject: DNSName | IPAddress
) -> None:
    """A TLS client that trusts root-ca.pem accepts tls.pem for localhost and loopback IPs."""
    tls = _cert((pki_dir / TLS_CERT).read_bytes())
    verifier = (
        PolicyBuilder()
        .store(Store([_cert(authority.root_ca_pem())]))
        .time(datetime.now(UTC))
        .build_server_verifier(subject)
    )
    assert len(verifier.verify(tls, [])) == 2
    assert ExtendedKeyUsageOID.SERVER_AUTH in _ext(tls, x509.ExtendedKeyUsage).value


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["ec-p256", "ec-p384", "rsa-2048", "ed25519"],
)
def test_signed_certificate_chains_to_the_development_root(
    authority: CertificateAuthority, make_key: Callable[[], PrivateKey]
) -> None:
    """For every accepted key type, a client verifier trusting only the root accepts the
    issued certificate with the organisations CA as intermediate, for the org's URN."""
    now = datetime.now(UTC)
    leaf = _sign(authority, make_csr(make_key()), org_id="org_chain", now=now)
    verifier = (
        PolicyBuilder()
        .store(Store([_cert(authority.root_ca_pem())]))
        .time(now)
        .build_client_verifier()
    )
    verified = verifier.verify(leaf, [_cert(authority.orgs_ca_pem())])
    assert len(verified.chain) == 3
    assert verified.subjects == [x509.UniformResourceIdentifier("urn:govconnect:org:org_chain")]


def test_issued_certificate_has_the_client_profile_the_ca_chose(
    authority: CertificateAuthority,
) -> None:
    """The CA sets O and CN itself (the CSR's names are ignored), clientAuth, digitalSignature
    only, not a CA, AKI = organisations CA SKI, and a positive serial of at most 159 bits."""
    now = datetime.now(UTC)
    issued = authority.sign_csr(
        make_csr(), org_id="org_profile", org_name="Profile Council", now=now, days=30
    )
    leaf = _cert(issued.pem)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "org_profile"
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Profile Council"
    )
    assert _ext(leaf, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    usage = _ext(leaf, x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    assert not _ext(leaf, x509.BasicConstraints).value.ca
    orgs = _cert(authority.orgs_ca_pem())
    assert (
        _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier
        == _ext(orgs, x509.SubjectKeyIdentifier).value.digest
    )
    assert 0 < issued.serial < 2**159 and issued.serial == leaf.serial_number
    assert issued.fingerprint == leaf.fingerprint(hashes.SHA256()).hex()
    assert issued.not_after - issued.not_before == timedelta(days=30)


def test_certificate_never_outlives_the_organisations_ca(authority: CertificateAuthority) -> None:
    """Asking for more days than the issuing CA has left gets the CA's own end date."""
    leaf = _sign(authority, make_csr(), days=100_000)
    assert leaf.not_valid_after_utc == _cert(authority.orgs_ca_pem()).not_valid_after_utc


def test_long_organisation_name_is_cut_to_the_x520_upper_bound(
    authority: CertificateAuthority,
) -> None:
    """ub-organization-name is 64 (RFC 5280 Appendix A.1); the CN still names the organisation."""
    leaf = _sign(authority, make_csr(), org_name="N" * 200)
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "N" * 64


def _pasted_private_key() -> bytes:
    """A freshly made key, PEM-encoded: what a council might paste instead of its CSR."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("make_request", "expected"),
    [
        (lambda: tampered(make_csr()), "signature does not verify"),
        (rsa_1024_csr, "RSA key is 1024 bits; use at least 2048"),
        (lambda: make_csr(ec.generate_private_key(ec.SECP521R1())), "curve secp521r1"),
        (lambda: make_csr(dsa.generate_private_key(2048)), "DSA key is not accepted"),
        (lambda: SHA1_CSR, "signed with SHA1"),
        (lambda: b"hello, please sign me", "not a PEM-encoded PKCS #10"),
        (
            lambda: b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "is a certificate",
        ),
        (_pasted_private_key, "private key"),
        (lambda: b"A" * 20_000, "limit"),
    ],
    ids=[
        "broken-signature",
        "rsa-1024",
        "p-521",
        "dsa",
        "sha1",
        "garbage",
        "certificate",
        "private-key",
        "oversized",
    ],
)
def test_unacceptable_csrs_are_refused_with_a_reason_to_act_on(
    authority: CertificateAuthority, make_request: Callable[[], bytes], expected: str
) -> None:
    """Each refusal is an InvalidCsrError whose detail says what is wrong."""
    with pytest.raises(InvalidCsrError) as refused:
        _sign(authority, make_request())
    assert expected in refused.value.detail


def test_crl_lists_serials_with_reason_codes_and_verifies_against_the_organisations_ca(
    authority: CertificateAuthority,
) -> None:
    """RFC 5280 §5: signed by the organisations CA, AKI, nextUpdate, reasonCode only when
    it says more than 'unspecified', and a cRLNumber that grows with time."""
    now = datetime.now(UTC).replace(microsecond=0)
    revoked = [(11, now, "keyCompromise"), (22, now, None), (33, now, "unspecified")]
    crl = x509.load_der_x509_crl(authority.build_crl(revoked, now=now, validity_hours=24))
    orgs = _cert(authority.orgs_ca_pem())
    public_key = orgs.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(public_key)
    assert crl.issuer == orgs.subject
    assert crl.next_update_utc == now + timedelta(hours=24)
    assert (
        crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        == _ext(orgs, x509.SubjectKeyIdentifier).value.digest
    )
    entry = crl.get_revoked_certificate_by_serial_number(11)
    assert entry is not None and entry.revocation_date_utc == now
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    for serial in (22, 33):
        bare = crl.get_revoked_certificate_by_serial_number(serial)
        assert bare is not None and len(bare.extensions) == 0
    later = x509.load_der_x509_crl(
        authority.build_crl(revoked, now=now + timedelta(seconds=1), validity_hours=24)
    )
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
