"""``govconnect officers`` as an operator runs it: a real subprocess against the test store,
designating, listing and removing identity officers with ``--json``, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.runtime import Runtime
from tests.support.servers import gateway_env, run_cli
from tests.trust_levels.proofing.support import new_council, new_person


@pytest.fixture
def env(tmp_path: Path, settings: Settings, redis_url: str, pki_dir: Path) -> dict[str, str]:
    """The CLI's environment: the test store and keys, its own data folder."""
    SecretBox.initialise(pki_dir / DATA_KEY_FILE_NAME)
    extra = {"GOVCONNECT_REDIS_URL": redis_url, "GOVCONNECT_PKI_DIR": str(pki_dir)}
    if settings.redis_cluster:
        extra["GOVCONNECT_REDIS_CLUSTER"] = "1"
    return gateway_env(tmp_path, extra)


async def test_add_list_and_remove_an_officer(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    person, council = await new_person(runtime), await new_council(runtime)
    added = run_cli(
        env, tmp_path, "officers", "add", person.email, "--organisation", council, "--json"
    )
    assert json.loads(added.stdout)["account_id"] == person.id
    listed = json.loads(run_cli(env, tmp_path, "officers", "list", "--json").stdout)
    assert {"account_id": person.id, "organisation_id": council}.items() <= next(
        o for o in listed if o["account_id"] == person.id
    ).items()
    removed = run_cli(env, tmp_path, "officers", "remove", person.id, "--json")
    assert json.loads(removed.stdout)["organisation_id"] == council
    again = run_cli(env, tmp_path, "officers", "remove", person.id, check=False)
    assert again.returncode == 1
    assert "not an identity officer" in again.stderr


async def test_unknown_people_and_organisations_are_refused(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    person, council = await new_person(runtime), await new_council(runtime)
    nobody = run_cli(
        env,
        tmp_path,
        "officers",
        "add",
        "nobody@example.org",
        "--organisation",
        council,
        check=False,
    )
    assert nobody.returncode == 1 and "No account has that email address" in nobody.stderr
    nowhere = run_cli(
        env,
        tmp_path,
        "officers",
        "add",
        person.email,
        "--organisation",
        "org_nowhere",
        check=False,
    )
    assert nowhere.returncode == 1 and "No organisation" in nowhere.stderr
