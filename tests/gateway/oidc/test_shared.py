"""Authorization codes are single use and remember reuse; pairwise subjects differ per sector."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core.errors import ConfigurationError
from gateway.core.ids import new_id
from gateway.oidc.models import AuthorizationGrant
from gateway.oidc.store import CodeStore
from gateway.oidc.subjects import PairwiseSubjects
from gateway.runtime import Runtime


def _grant() -> AuthorizationGrant:
    now = datetime.now(UTC)
    return AuthorizationGrant(
        grant_id=new_id("grt"),
        client_id=new_id("cli"),
        redirect_uri="https://c.example/cb",
        scope=("openid", "email"),
        account_id=new_id("acc"),
        sid="sid-1",
        auth_time=now,
        amr=("pwd", "otp"),
        acr=None,
        nonce="n-0S6",
        code_challenge="x" * 43,
        claims=None,
        dpop_jkt=None,
        issued_at=now,
    )


async def test_a_code_is_redeemed_once_and_its_reuse_names_the_grant(runtime: Runtime) -> None:
    codes = CodeStore(runtime.redis)
    code, grant = secrets.token_urlsafe(32), _grant()
    await codes.put(code, grant, 60)
    first = await codes.redeem(code)
    assert first.grant == grant and first.reused_grant_id is None
    second = await codes.redeem(code)
    assert second.grant is None and second.reused_grant_id == grant.grant_id


async def test_an_unknown_code_redeems_nothing(runtime: Runtime) -> None:
    outcome = await CodeStore(runtime.redis).redeem(secrets.token_urlsafe(32))
    assert outcome.grant is None and outcome.reused_grant_id is None


def test_pairwise_subjects_are_stable_per_sector_and_differ_across_sectors(tmp_path: Path) -> None:
    path = tmp_path / "pairwise.key"
    assert PairwiseSubjects.initialise(path)
    assert not PairwiseSubjects.initialise(path)
    assert path.stat().st_mode & 0o777 == 0o600
    subjects = PairwiseSubjects(path)
    account = new_id("acc")
    council = subjects.subject("council.example.gov.uk", account)
    assert council == PairwiseSubjects(path).subject("council.example.gov.uk", account)
    assert council != subjects.subject("other-council.example.gov.uk", account)
    assert account not in council


def test_pairwise_subjects_without_a_secret_say_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="govconnect init"):
        PairwiseSubjects(tmp_path / "missing.key").subject("s", "a")
