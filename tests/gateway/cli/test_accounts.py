"""``govconnect accounts`` as an operator runs it: a real subprocess against the test store,
JSON for scripts, never a password or secret in the output, clear refusals."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from tests.support.servers import gateway_env, run_cli

PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def env(tmp_path: Path, settings: Settings, redis_url: str, pki_dir: Path) -> dict[str, str]:
    """The CLI's environment: the test store and keys (a data key included), its own data
    folder."""
    SecretBox.initialise(pki_dir / DATA_KEY_FILE_NAME)
    extra = {"GOVCONNECT_REDIS_URL": redis_url, "GOVCONNECT_PKI_DIR": str(pki_dir)}
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


def _email() -> str:
    return f"cli-{secrets.token_hex(6)}@example.com"


def _create(env: dict[str, str], cwd: Path, email: str, *extra: str) -> dict[str, object]:
    result = run_cli(
        env, cwd, "accounts", "create", "--email", email, "--password", PASSWORD, *extra, "--json"
    )
    created: dict[str, object] = json.loads(result.stdout)
    return created


def test_create_prints_the_account_and_show_finds_it_by_id_or_email(
    env: dict[str, str], tmp_path: Path
) -> None:
    email = _email()
    created = _create(env, tmp_path, email, "--verified")
    assert str(created["id"]).startswith("acc_")
    assert created["email"] == email and created["email_verified"] is True
    assert created["totp_enabled"] is False

    by_email = run_cli(env, tmp_path, "accounts", "show", email.upper(), "--json")
    by_id = run_cli(env, tmp_path, "accounts", "show", str(created["id"]), "--json")
    assert json.loads(by_email.stdout) == json.loads(by_id.stdout)
    assert json.loads(by_id.stdout)["recovery_codes_remaining"] == 0
    for output in (by_email.stdout, by_id.stdout):
        assert PASSWORD not in output and "argon2" not in output and "password" not in output


def test_an_authenticator_secret_is_set_at_creation_and_reset_by_support(
    env: dict[str, str], tmp_path: Path
) -> None:
    created = _create(env, tmp_path, _email(), "--verified", "--totp-secret", TOTP_SECRET)
    assert created["totp_enabled"] is True
    shown = run_cli(env, tmp_path, "accounts", "show", str(created["id"]))
    assert "authenticator app: on" in shown.stdout and TOTP_SECRET not in shown.stdout

    reset = run_cli(env, tmp_path, "accounts", "reset-mfa", str(created["id"]), "--json")
    assert json.loads(reset.stdout)["totp_enabled"] is False


def test_disable_ends_sessions_and_enable_restores(env: dict[str, str], tmp_path: Path) -> None:
    account_id = str(_create(env, tmp_path, _email())["id"])
    disabled = json.loads(
        run_cli(env, tmp_path, "accounts", "disable", account_id, "--json").stdout
    )
    assert disabled["disabled"] is True and disabled["sessions_ended"] == 0
    enabled = run_cli(env, tmp_path, "accounts", "enable", account_id)
    assert enabled.stdout.strip() == f"{account_id} enabled"


def test_a_weak_password_exits_2_and_a_taken_address_exits_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    email = _email()
    weak = run_cli(
        env, tmp_path, "accounts", "create", "--email", email, "--password", "password1",
        check=False,
    )  # fmt: skip
    assert weak.returncode == 2 and "too common" in weak.stderr and weak.stdout == ""

    _create(env, tmp_path, email)
    taken = run_cli(
        env, tmp_path, "accounts", "create", "--email", email, "--password", PASSWORD,
        check=False,
    )  # fmt: skip
    assert taken.returncode == 1 and "already has the email address" in taken.stderr


def test_an_unknown_account_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(env, tmp_path, "accounts", "show", "acc_" + "N" * 22, check=False)
    assert result.returncode == 1 and "No account has the id" in result.stderr
