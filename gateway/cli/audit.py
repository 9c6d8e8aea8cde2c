"""``govconnect audit``: read and verify the evidence log."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, emit, fail, run
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


@app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Check every link of the hash chain and every signed checkpoint; name the first broken
    entry or checkpoint. Exit 1 if anything is broken."""

    async def action(runtime: Runtime) -> bool:
        check = await runtime.evidence.verify()
        data = {
            "ok": check.ok,
            "entries": check.entries,
            "head": check.head,
            "checkpoints": check.checkpoints,
            "first_broken_seq": check.first_broken_seq,
            "broken_checkpoint": check.broken_checkpoint,
            "reason": check.reason,
        }
        if check.ok:
            lines = [
                f"evidence log intact: {check.entries} entries, {check.checkpoints} signed "
                f"checkpoints, head {check.head}"
            ]
        elif check.broken_checkpoint is not None:
            lines = [
                f"evidence log BROKEN at the checkpoint of entry {check.broken_checkpoint}: "
                f"{check.reason}"
            ]
        else:
            lines = [f"evidence log BROKEN at entry {check.first_broken_seq}: {check.reason}"]
        emit(data, as_json, lines)
        return check.ok

    if not run(action):
        fail("the evidence log does not verify")


@app.command("checkpoint")
def checkpoint(as_json: JsonOption = False) -> None:
    """Sign the evidence log's head now with the gateway's key (a checkpoint is also signed
    every GOVCONNECT_EVIDENCE_CHECKPOINT_EVERY entries)."""

    async def action(runtime: Runtime) -> None:
        signed = await runtime.evidence.checkpoint()
        if signed is None:
            fail("the evidence log is empty: there is nothing to sign")
        emit(
            {"chain": signed.chain, "seq": signed.seq, "hash": signed.hash, "jws": signed.jws},
            as_json,
            [f"checkpoint signed: entry {signed.seq}, hash {signed.hash}"],
        )

    run(action)


@app.command("list")
def list_entries(
    after: Annotated[int, typer.Option(help="Show entries after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show evidence log entries in order."""

    async def action(runtime: Runtime) -> None:
        entries = await runtime.evidence.entries(after, limit)
        emit(
            entries,
            as_json,
            [
                f"{e['seq']:>6} {e['time']} {e['actor']} {e['action']} {e['subject']}"
                for e in entries
            ],
        )

    run(action)
