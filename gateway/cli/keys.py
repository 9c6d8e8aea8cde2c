"""``govconnect keys``: list and rotate the gateway's signing keys; rotate the messages KEK.

``list`` reads the key file alone; ``rotate`` also records the rotation in the evidence log.
Both run beside live gateways: a rotation takes the file's lock, and every gateway process
picks it up within a second.
"""

from __future__ import annotations

import typer

from gateway.cli.common import JsonOption, cli_actor, emit, fail, run, settings
from gateway.core.clock import SystemClock
from gateway.core.errors import GovConnectError
from gateway.evidence.models import Event
from gateway.runtime import Runtime
from gateway.signing.models import RotationResult
from gateway.signing.services import KeyRing
from gateway.signing.store import KEY_FILE_NAME
from messaging.services import Rewrapped

app = typer.Typer(no_args_is_help=True)


def _ring() -> KeyRing:
    config = settings()
    return KeyRing(config.pki_dir / KEY_FILE_NAME, SystemClock(), config.max_token_lifetime_seconds)


@app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List every signing key with its family and state, archived keys included."""
    try:
        keys = [key.to_json() for key in _ring().all_keys()]
    except GovConnectError as exc:
        fail(exc.detail)
    lines = [
        f"{k['kid']}  {k['family']:<8}  {k['state']:<8}  created {k['created_at']}"
        + (f"  retired {k['retired_at']}" if k["retired_at"] else "")
        for k in keys
    ]
    emit(keys, as_json, lines)


@app.command("rotate")
def rotate(as_json: JsonOption = False) -> None:
    """Retire the current keys, promote the next ones and publish fresh next keys.

    Tokens signed before the rotation keep verifying: their keys stay published until the
    longest token lifetime has passed, and are archived by a later rotation. The rotation is
    written to the evidence log like every other administrative change.
    """

    async def action(runtime: Runtime) -> RotationResult:
        result = runtime.keys.rotate()
        await runtime.evidence.record(
            Event(str(cli_actor()), "signing-keys.rotated", "key-ring", result.to_json())
        )
        return result

    result = run(action)
    lines = [
        f"{label}: {', '.join(kids) or '-'}"
        for label, kids in (
            ("current", result.current),
            ("next", result.next),
            ("retiring", result.retiring),
            ("archived", result.archived),
        )
    ]
    emit(result.to_json(), as_json, lines)


@app.command("rotate-kek")
def rotate_kek(as_json: JsonOption = False) -> None:
    """Add a new key-encryption key for secure messages and re-wrap every stored message's
    data key under it; no message body or attachment is read or rewritten.

    Older KEKs stay in the key file, so a message wrapped by a gateway that had not yet seen
    the new key still opens; running the command again re-wraps those too.
    """

    async def action(runtime: Runtime) -> Rewrapped:
        runtime.messaging.ring.rotate()
        result = await runtime.messaging.rewrap()
        await runtime.evidence.record(
            Event(str(cli_actor()), "message-keys.rotated", "message-kek", result.to_json())
        )
        return result

    result = run(action)
    lines = [f"KEK now wrapping: {result.kek}", f"data keys re-wrapped: {result.rewrapped}"]
    lines += [f"could not unwrap: {name}" for name in result.unreadable]
    emit(result.to_json(), as_json, lines)
