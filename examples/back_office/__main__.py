"""``python -m examples.back_office``: serve the push endpoint (port 8002 by default).

``python -m examples.back_office pull`` polls GovConnect's inbox instead, and
``python -m examples.back_office jwks`` prints the public JWK Set to register for the back
office's client (making the key first if need be).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import uvicorn

from examples.back_office.app import BackOffice, create_app
from examples.back_office.config import Config
from examples.council_website import keys


async def pull(config: Config) -> None:
    app = create_app(config)
    office: BackOffice = app.state.office
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await office.pull_forever(stop)
    finally:
        await office.gateway.aclose()


def main(arguments: list[str]) -> None:
    config = Config.from_env()
    logging.basicConfig(level=logging.INFO)
    if arguments == ["jwks"]:
        print(json.dumps(keys.public_jwks(keys.load_or_create(config.key_file)), indent=2))
    elif arguments == ["pull"]:
        asyncio.run(pull(config))
    elif not arguments:
        uvicorn.run(create_app(config), host=config.host, port=config.port)
    else:
        sys.exit("usage: python -m examples.back_office [pull | jwks]")


main(sys.argv[1:])
