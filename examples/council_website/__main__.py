"""``python -m examples.council_website``: serve the site (port 8001 by default).

``python -m examples.council_website jwks`` prints the site's public JWK Set instead (making
the key first if need be), for ``govconnect clients add … --jwks-file``.
"""

from __future__ import annotations

import json
import logging
import sys

import uvicorn

from examples.council_website import keys
from examples.council_website.app import create_app
from examples.council_website.config import Config


def main(arguments: list[str]) -> None:
    config = Config.from_env()
    if arguments == ["jwks"]:
        print(json.dumps(keys.public_jwks(keys.load_or_create(config.key_file)), indent=2))
        return
    if arguments:
        sys.exit("usage: python -m examples.council_website [jwks]")
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(config), host=config.host, port=config.port)


main(sys.argv[1:])
