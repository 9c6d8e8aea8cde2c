"""The one table mapping the gateway's level names to GPG 44/45, eIDAS and NIST (DESIGN.md §2).

Each row is a component of a vector of trust (RFC 8485 §3): a credential strength ``Cl``,
``Cl.Cm`` or ``Cl.Cm.Ch``, or an identity confidence ``P0`` to ``P3``.

- GPG 44 ("Using authenticators to protect an online service") names the credential levels
  low, medium and high; GPG 45 ("How to prove and verify someone's identity") names the
  identity confidences low, medium, high (and very high, counted as high: see ``gpg45``).
- eIDAS: the levels of assurance of Commission Implementing Regulation (EU) 2015/1502, Annex
  §2.1 (identity proofing) and §2.2 (authentication), as the ``http://eidas.europa.eu/LoA/``
  URIs of the eIDAS SAML attribute profile. eIDAS has no level for an unproven identity.
- NIST SP 800-63-3: the AAL of SP 800-63B §4 and the IAL of SP 800-63-3 §5.2 / SP 800-63A §4.
  The IAL given is the highest one the GPG 45 level is sure to meet. IAL1 asks for no proofing
  at all, and nothing sits between it and IAL2, so ``P0`` and ``P1`` are IAL1. ``P3`` is IAL2,
  not IAL3: IAL3 needs in-person or supervised remote proofing by a trained CSP
  representative (SP 800-63A §4.6, §5.3.3), which no GPG 45 high profile requires.
  ``Cl.Cm.Ch`` is AAL3 only for a device-bound passkey (hardware, non-exportable key,
  SP 800-63B §4.3); a synced passkey reaches AAL2 (SP 800-63B Supplement 1, 2024).

The ``acr`` the gateway asserts and advertises for a vector is the vector string itself
(``Cl.Cm.P2``), as GOV.UK One Login does with ``vot``: a relying party that asks with ``vtr``
or with ``acr_values`` uses the same names, and ``gateway.authorize.levels`` already emits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trust_levels.models import CredentialStrength, IdentityConfidence, Vector

_EIDAS = "http://eidas.europa.eu/LoA/"


@dataclass(frozen=True, slots=True)
class Level:
    """One row: a vector component and its names elsewhere (``None``: no equivalent)."""

    component: str
    axis: str
    gpg: str
    eidas: str | None
    nist: str


LEVELS: tuple[Level, ...] = (
    Level("Cl", "credential", "GPG 44 low", f"{_EIDAS}low", "AAL1"),
    Level("Cl.Cm", "credential", "GPG 44 medium", f"{_EIDAS}substantial", "AAL2"),
    Level("Cl.Cm.Ch", "credential", "GPG 44 high", f"{_EIDAS}high", "AAL3"),
    Level("P0", "identity", "GPG 45 none", None, "IAL1"),
    Level("P1", "identity", "GPG 45 low", f"{_EIDAS}low", "IAL1"),
    Level("P2", "identity", "GPG 45 medium", f"{_EIDAS}substantial", "IAL2"),
    Level("P3", "identity", "GPG 45 high", f"{_EIDAS}high", "IAL2"),
)
_BY_COMPONENT = {level.component: level for level in LEVELS}

TABLE_START = "<!-- levels-table:start -->"
TABLE_END = "<!-- levels-table:end -->"


def credential_level(strength: CredentialStrength) -> Level:
    return _BY_COMPONENT[".".join(strength.components)]


def identity_level(confidence: IdentityConfidence) -> Level:
    return _BY_COMPONENT[f"P{int(confidence)}"]


def acr(vector: Vector) -> str:
    """The ``acr`` value for a vector: its canonical string (see the module docstring)."""
    return str(vector)


def render_markdown() -> str:
    """The table as docs/levels.md shows it, between its two marker comments."""
    rows = [
        "| Vector | Axis | GPG 44 / 45 | eIDAS (2015/1502) | NIST SP 800-63-3 |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| `{row.component}` | {row.axis} | {row.gpg} | "
            f"{f'`{row.eidas}`' if row.eidas else '—'} | {row.nist} |"
            for row in LEVELS
        ),
    ]
    return "\n".join(rows)


def documented_table(markdown: str) -> str:
    """The table a document holds between the marker comments, to compare with
    :func:`render_markdown` (empty if the markers are missing)."""
    _, start, rest = markdown.partition(TABLE_START)
    table, end, _ = rest.partition(TABLE_END)
    return table.strip() if start and end else ""
