"""``govconnect orgs`` as an operator runs it: a real process on the test store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.certs.csrs import make_csr, tampered
from tests.gateway.organisations.helpers import council_code
from tests.support.servers import gateway_env, run_cli

OK_EMAIL = "it@refused.example"


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: the test Redis and the session's PKI folder."""
    assert settings.redis_url is not None
    extra = {
        "GOVCONNECT_REDIS_URL": settings.redis_url,
        "GOVCONNECT_PKI_DIR": str(settings.pki_dir),
    }
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


def _add(env: dict[str, str], cwd: Path, code: str) -> dict[str, object]:
    result = run_cli(
        env,
        cwd,
        "orgs",
        "add",
        "--name",
        "CLI District Council",
        "--kind",
        "council",
        "--code",
        code,
        "--contact-email",
        "digital@cli-district.example",
        "--endpoint",
        "submissions=https://cli-district.example/in",
        "--endpoint",
        "local=http://127.0.0.1:8001/in",
        "--json",
    )
    data: dict[str, object] = json.loads(result.stdout)
    return data


async def test_orgs_add_json_prints_the_registered_organisation(
    cli_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    """--json prints one JSON document a script can read, and the store holds that record."""
    code = council_code()
    data = _add(cli_env, tmp_path, code)
    assert data["code"] == code and data["kind"] == "council"
    assert data["endpoints"] == {
        "submissions": "https://cli-district.example/in",
        "local": "http://127.0.0.1:8001/in",
    }
    stored = await runtime.organisations.get(str(data["id"]))
    assert stored.to_json() == data


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--kind", "council", "--code", "E1234", "--contact-email", OK_EMAIL], "ONS GSS code"),
        (
            [
                *("--kind", "agency", "--endpoint", "inbox=http://agency.example/"),
                *("--contact-email", OK_EMAIL),
            ],
            "use https",
        ),
        (
            ["--kind", "agency", "--endpoint", "no-equals-sign", "--contact-email", OK_EMAIL],
            "name=https://",
        ),
        (["--kind", "agency", "--contact-email", "nobody"], "e-mail address"),
    ],
    ids=["gss-code", "plain-http", "endpoint-syntax", "email"],
)
def test_orgs_add_refuses_invalid_input_with_exit_2_and_a_clear_message(
    cli_env: dict[str, str], tmp_path: Path, arguments: list[str], message: str
) -> None:
    """Input the registry would refuse ends with status 2, the reason on stderr, no output."""
    result = run_cli(
        cli_env, tmp_path, "orgs", "add", "--name", "Refused", *arguments, "--json", check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_orgs_add_refuses_an_unknown_kind_as_a_usage_error(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """--kind takes only council, department or agency; anything else is a usage error (2)."""
    result = run_cli(
        cli_env,
        tmp_path,
        *("orgs", "add", "--name", "Parish", "--kind", "parish", "--contact-email", OK_EMAIL),
        check=False,
    )
    assert result.returncode == 2
    assert "parish" in result.stderr and "council" in result.stderr


def test_orgs_add_with_a_registered_code_fails_and_names_the_holder(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A duplicate code is a conflict (status 1), not invalid input, and says who holds it."""
    code = council_code()
    holder = _add(cli_env, tmp_path, code)
    again = run_cli(
        cli_env,
        tmp_path,
        *("orgs", "add", "--name", "Copy", "--kind", "council", "--code", code),
        *("--contact-email", "it@copy.example"),
        check=False,
    )
    assert again.returncode == 1
    assert "already registered" in again.stderr and str(holder["id"]) in again.stderr


def test_certificate_lifecycle_from_the_command_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """issue-cert writes the certificate, revoke-cert revokes it, crl writes a CRL listing it."""
    org_id = str(_add(cli_env, tmp_path, council_code())["id"])
    (tmp_path / "org.csr").write_bytes(make_csr())
    issued = json.loads(
        run_cli(
            cli_env,
            tmp_path,
            *("orgs", "issue-cert", org_id, "--csr", "org.csr", "--out", "org.pem", "--json"),
        ).stdout
    )
    written = x509.load_pem_x509_certificate((tmp_path / "org.pem").read_bytes())
    assert format(written.serial_number, "x") == issued["serial"]

    revoked = json.loads(
        run_cli(
            cli_env,
            tmp_path,
            *("orgs", "revoke-cert", org_id, issued["serial"], "--reason", "keyCompromise"),
            "--json",
        ).stdout
    )
    assert revoked["status"] == "revoked" and revoked["reason"] == "keyCompromise"

    summary = json.loads(
        run_cli(cli_env, tmp_path, "orgs", "crl", "--out", "orgs.crl", "--json").stdout
    )
    crl = x509.load_der_x509_crl((tmp_path / "orgs.crl").read_bytes())
    assert summary["revoked"] == len(crl) >= 1
    assert crl.get_revoked_certificate_by_serial_number(written.serial_number) is not None

    shown = json.loads(run_cli(cli_env, tmp_path, "orgs", "show", org_id, "--json").stdout)
    assert [c["status"] for c in shown["certificates"]] == ["revoked"]
    listed = json.loads(run_cli(cli_env, tmp_path, "orgs", "list", "--json").stdout)
    assert org_id in {o["id"] for o in listed}


def test_issue_cert_refuses_a_broken_csr_with_exit_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A CSR whose signature fails is invalid input: status 2 and the reason on stderr."""
    data = _add(cli_env, tmp_path, council_code())
    (tmp_path / "broken.csr").write_bytes(tampered(make_csr()))
    result = run_cli(
        cli_env,
        tmp_path,
        *("orgs", "issue-cert", str(data["id"]), "--csr", "broken.csr"),
        check=False,
    )
    assert result.returncode == 2
    assert "signature does not verify" in result.stderr


def test_issue_cert_with_a_missing_csr_file_exits_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A CSR path that does not exist is reported before anything else happens."""
    result = run_cli(
        cli_env,
        tmp_path,
        *("orgs", "issue-cert", "org_AAAAAAAAAAAAAAAAAAAAAA", "--csr", "missing.csr"),
        check=False,
    )
    assert result.returncode == 2 and "cannot read the CSR file" in result.stderr
