"""``govconnect audit``: read and verify the evidence log."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import JsonOption, emit, fail, run
from gateway.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


@app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Check every link of the hash chain; name the first broken entry. Exit 1 if broken."""

    async def action(runtime: Runtime) -> bool:
        check = await runtime.evidence.verify()
        data = {
            "ok": check.ok,
            "entries": check.entries,
            "head": check.head,
            "first_broken_seq": check.first_broken_seq,
            "reason": check.reason,
        }
        lines = (
            [f"evidence log intact: {check.entries} entries, head {check.head}"]
            if check.ok
            else [f"evidence log BROKEN at entry {check.first_broken_seq}: {check.reason}"]
        )
        emit(data, as_json, lines)
        return check.ok

    if not run(action):
        fail("the evidence log does not verify")


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
