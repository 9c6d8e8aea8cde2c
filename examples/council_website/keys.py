"""The website's own signing key for ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9).

Generated at first start and kept in a file only this site's user can read (0600, in a 0700
folder; under ``var/``, which git ignores). GovConnect holds only the public half, as a JWK
Set: ``python -m examples.council_website jwks`` prints it, and ``/jwks.json`` serves it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

ALGORITHM = "ES256"


def load_or_create(path: Path) -> ECKey:
    """The key in ``path``, made first if there is none (never overwritten)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ECKey.generate_key("P-256", private=True, auto_kid=True)
        # NOTE: the private key sits in a 0600 file, as a development example's may; a
        # council's production site keeps it in its secret store or an HSM.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(key.as_dict(private=True), handle)
    return ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))


def public_jwks(key: ECKey) -> dict[str, Any]:
    """The public JWK Set to register with GovConnect (RFC 7517 §5): no private member."""
    public = key.as_dict(private=False)
    return {"keys": [{**public, "use": "sig", "alg": ALGORITHM, "kid": key.kid}]}
