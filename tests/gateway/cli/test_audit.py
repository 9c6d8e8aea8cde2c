"""``govconnect audit``: ``checkpoint`` signs the evidence log's head on demand, and
``verify`` checks every link and every signed checkpoint, with ``--json`` for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.core.settings import Settings
from gateway.evidence.models import Event
from gateway.runtime import Runtime
from tests.support.servers import gateway_env, run_cli


async def test_checkpoint_then_verify_counts_the_signed_checkpoints(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    await runtime.evidence.record(Event("cli:pytest", "audit.tested", "main"))
    assert settings.redis_url is not None
    env = gateway_env(
        tmp_path,
        {"GOVCONNECT_REDIS_URL": settings.redis_url, "GOVCONNECT_PKI_DIR": str(settings.pki_dir)},
    )
    signed = json.loads(run_cli(env, tmp_path, "audit", "checkpoint", "--json").stdout)
    assert signed["chain"] == "main" and signed["seq"] >= 1 and signed["jws"].count(".") == 2
    report = json.loads(run_cli(env, tmp_path, "audit", "verify", "--json").stdout)
    assert report["ok"] and report["checkpoints"] >= 1 and report["broken_checkpoint"] is None
    text = run_cli(env, tmp_path, "audit", "verify").stdout
    assert "signed checkpoints" in text
