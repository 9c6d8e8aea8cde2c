"""The organisations admin API and the public PKI documents, over real HTTP on a real store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import PolicyBuilder, Store

from tests.certs.csrs import make_csr, rsa_1024_csr, tampered
from tests.gateway.organisations.helpers import council, department_code

PROBLEM = "application/problem+json"
ORGS = "/admin/v1/organisations"


async def _register(http: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> str:
    response = await http.post(ORGS, headers=headers, json=council(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _issue(http: httpx.AsyncClient, headers: dict[str, str], org_id: str) -> dict[str, Any]:
    response = await http.post(
        f"{ORGS}/{org_id}/certificates", headers=headers, json={"csr": make_csr().decode()}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("urn:govconnect:problem:")
    return body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", ORGS, council()),
        ("GET", ORGS, None),
        ("GET", f"{ORGS}/org_AAAAAAAAAAAAAAAAAAAAAA", None),
        ("POST", f"{ORGS}/org_AAAAAAAAAAAAAAAAAAAAAA/certificates", {"csr": "x"}),
        ("GET", f"{ORGS}/org_AAAAAAAAAAAAAAAAAAAAAA/certificates", None),
        ("POST", f"{ORGS}/org_AAAAAAAAAAAAAAAAAAAAAA/certificates/0a/revoke", None),
    ],
    ids=["add", "list", "show", "issue", "certificates", "revoke"],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer gcadm_forged-token"}],
    ids=["missing-token", "forged-token"],
)
async def test_admin_routes_refuse_missing_or_forged_tokens(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    """Every organisations admin route answers 401 problem+json before doing anything."""
    response = await http.request(method, path, headers=headers, json=body)
    _assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_registered_organisation_can_be_read_back_and_listed(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """POST answers 201 with the record; GET by id and the list return the same record."""
    details = council()
    created = await http.post(ORGS, headers=admin_headers, json=details)
    assert created.status_code == 201, created.text
    organisation = created.json()
    assert organisation["id"].startswith("org_")
    assert organisation["code"] == details["code"]
    assert organisation["endpoints"] == details["endpoints"]
    shown = await http.get(f"{ORGS}/{organisation['id']}", headers=admin_headers)
    assert shown.status_code == 200 and shown.json() == organisation
    listed = await http.get(ORGS, headers=admin_headers)
    assert organisation in listed.json()["organisations"]


@pytest.mark.parametrize(
    "org_id", ["org_AAAAAAAAAAAAAAAAAAAAAA", "not-an-id"], ids=["well-formed", "junk"]
)
async def test_unknown_organisation_is_a_404_problem(
    http: httpx.AsyncClient, admin_headers: dict[str, str], org_id: str
) -> None:
    """An id nobody registered, well-formed or not, is 404 with a detail saying how to list."""
    for path in (f"{ORGS}/{org_id}", f"{ORGS}/{org_id}/certificates"):
        problem = _assert_problem(await http.get(path, headers=admin_headers), 404)
        assert problem["type"] == "urn:govconnect:problem:organisation-not-found"
        assert "govconnect orgs list" in problem["detail"]


async def test_duplicate_code_is_a_409_problem_naming_the_holder(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """A second organisation with the same code (in any letter case) is refused with 409."""
    code = department_code()
    first = await _register(http, admin_headers, kind="department", code=code)
    again = await http.post(
        ORGS, headers=admin_headers, json=council(kind="agency", code=code.lower())
    )
    problem = _assert_problem(again, 409)
    assert problem["type"] == "urn:govconnect:problem:duplicate-organisation-code"
    assert first in problem["detail"] and code in problem["detail"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"code": "E123"}, "code", "ONS GSS code"),
        ({"endpoints": {"inbox": "http://council.example/in"}}, "endpoints", "use https"),
        ({"endpoints": {"inbox": "https://user:pw@council.example/"}}, "endpoints", "password"),
        ({"endpoints": {"inbox": "https://council.example/#x"}}, "endpoints", "fragment"),
        ({"endpoints": {"Inbox": "https://council.example/"}}, "endpoints", "must start with a-z"),
        ({"contact_email": "not an address"}, "contact_email", "e-mail address"),
        ({"name": "   "}, "name", "at least 1 character"),
        ({"kind": "parish"}, "kind", "council"),
    ],
    ids=[
        "gss-code",
        "plain-http",
        "userinfo",
        "fragment",
        "endpoint-name",
        "email",
        "name",
        "kind",
    ],
)
async def test_invalid_organisation_details_are_a_problem_naming_the_field(
    http: httpx.AsyncClient,
    admin_headers: dict[str, str],
    overrides: dict[str, Any],
    field: str,
    words: str,
) -> None:
    """Bad input is refused as an RFC 9457 problem whose detail names the field and the rule."""
    response = await http.post(ORGS, headers=admin_headers, json=council(**overrides))
    problem = _assert_problem(response, 422)
    assert f"body.{field}" in problem["detail"] and words in problem["detail"]


async def test_loopback_http_endpoint_is_accepted_for_development(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Plain http is allowed when the endpoint is on this machine (localhost, 127.0.0.1, ::1)."""
    endpoints = {
        "a": "http://localhost:8001/in",
        "b": "http://127.0.0.1:8001/in",
        "c": "http://[::1]:8001/in",
    }
    org_id = await _register(http, admin_headers, endpoints=endpoints)
    shown = await http.get(f"{ORGS}/{org_id}", headers=admin_headers)
    assert shown.json()["endpoints"] == endpoints


async def test_certificate_issued_over_http_chains_to_the_published_root(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """A CSR posted to the admin API becomes a client certificate that a verifier trusting only
    /pki/root-ca.pem accepts, with /pki/orgs-ca.pem as the intermediate."""
    org_id = await _register(http, admin_headers)
    record = await _issue(http, admin_headers, org_id)
    assert record["status"] == "valid" and record["org_id"] == org_id
    root_response = await http.get("/pki/root-ca.pem")
    orgs_response = await http.get("/pki/orgs-ca.pem")
    for response in (root_response, orgs_response):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pem-certificate-chain"
    root = x509.load_pem_x509_certificate(root_response.content)
    orgs = x509.load_pem_x509_certificate(orgs_response.content)
    leaf = x509.load_pem_x509_certificate(record["pem"].encode())
    verified = (
        PolicyBuilder()
        .store(Store([root]))
        .time(datetime.now(UTC))
        .build_client_verifier()
        .verify(leaf, [orgs])
    )
    assert verified.subjects == [x509.UniformResourceIdentifier(f"urn:govconnect:org:{org_id}")]
    assert format(leaf.serial_number, "x") == record["serial"]
    listed = await http.get(f"{ORGS}/{org_id}/certificates", headers=admin_headers)
    assert [c["serial"] for c in listed.json()["certificates"]] == [record["serial"]]


@pytest.mark.parametrize(
    ("csr", "words"),
    [
        (tampered(make_csr()).decode(), "signature does not verify"),
        (rsa_1024_csr().decode(), "RSA key is 1024 bits; use at least 2048"),
        ("this is not a certificate signing request", "PKCS #10"),
    ],
    ids=["broken-signature", "rsa-1024", "garbage"],
)
async def test_unacceptable_csrs_are_a_400_problem_that_says_why(
    http: httpx.AsyncClient, admin_headers: dict[str, str], csr: str, words: str
) -> None:
    """Refused CSRs answer 400 invalid-csr with a detail the council developer can act on."""
    org_id = await _register(http, admin_headers)
    response = await http.post(
        f"{ORGS}/{org_id}/certificates", headers=admin_headers, json={"csr": csr}
    )
    problem = _assert_problem(response, 400)
    assert problem["type"] == "urn:govconnect:problem:invalid-csr"
    assert words in problem["detail"]
    listed = await http.get(f"{ORGS}/{org_id}/certificates", headers=admin_headers)
    assert listed.json()["certificates"] == []


async def test_revoked_serial_is_in_the_crl_served_over_http(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """After revocation the serial is on /pki/orgs-ca.crl with its reason; the CRL's signature
    verifies against the organisations CA; a certificate still valid is not listed."""
    org_id = await _register(http, admin_headers)
    revoked = await _issue(http, admin_headers, org_id)
    kept = await _issue(http, admin_headers, org_id)
    response = await http.post(
        f"{ORGS}/{org_id}/certificates/{revoked['serial']}/revoke",
        headers=admin_headers,
        json={"reason": "keyCompromise"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked" and response.json()["reason"] == "keyCompromise"

    fetched = await http.get("/pki/orgs-ca.crl")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/pkix-crl"
    assert fetched.headers["cache-control"] == "public, max-age=3600"
    crl = x509.load_der_x509_crl(fetched.content)
    orgs = x509.load_pem_x509_certificate((await http.get("/pki/orgs-ca.pem")).content)
    public_key = orgs.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(public_key)
    entry = crl.get_revoked_certificate_by_serial_number(int(revoked["serial"], 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert crl.get_revoked_certificate_by_serial_number(int(kept["serial"], 16)) is None


async def test_revocation_without_a_body_is_final_and_a_second_is_409(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """The reason is optional; revoking the same certificate again is a conflict."""
    org_id = await _register(http, admin_headers)
    record = await _issue(http, admin_headers, org_id)
    path = f"{ORGS}/{org_id}/certificates/{record['serial']}/revoke"
    first = await http.post(path, headers=admin_headers)
    assert first.status_code == 200, first.text
    assert first.json()["reason"] is None
    problem = _assert_problem(await http.post(path, headers=admin_headers), 409)
    assert problem["type"] == "urn:govconnect:problem:certificate-already-revoked"


async def test_revoking_an_unknown_serial_is_404_and_a_made_up_reason_is_400(
    http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Unknown serials (and junk) are 404 problems; reasons must be RFC 5280 §5.3.1 names."""
    org_id = await _register(http, admin_headers)
    record = await _issue(http, admin_headers, org_id)
    for serial in ("0abc", "zz-not-hex"):
        response = await http.post(
            f"{ORGS}/{org_id}/certificates/{serial}/revoke", headers=admin_headers
        )
        assert _assert_problem(response, 404)["type"].endswith("certificate-not-found")
    response = await http.post(
        f"{ORGS}/{org_id}/certificates/{record['serial']}/revoke",
        headers=admin_headers,
        json={"reason": "because"},
    )
    assert "keyCompromise" in _assert_problem(response, 400)["detail"]
