"""Address lookup: postcodes to addresses with their UPRNs, and a UPRN to its address.

:class:`AddressLookup` is the port. :class:`LocalGazetteer` answers from a small sample file
shipped beside this module (``gazetteer.csv``: invented addresses in three invented council
areas) for development and tests. :class:`OsPlacesLookup` asks an Ordnance Survey Places
API-compatible service (``/postcode`` and ``/uprn`` with the DPA dataset) for production.

OS Places names the local authority by its local custodian code, not its GSS code; the
deployment gives the map between the two (``GOVCONNECT_MOVES_CUSTODIAN_CODES``), and an address
whose custodian is not in it simply suggests no council.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from gateway import __version__
from gateway.moves.errors import AddressLookupError
from gateway.moves.models import UPRN, Address, normalise_postcode

SAMPLE_GAZETTEER = Path(__file__).with_name("gazetteer.csv")
DEFAULT_OS_PLACES_URL = "https://api.os.uk/search/places/v1"
MAX_RESULTS = 100
TIMEOUT_SECONDS = 5.0
# A postcode as typed: letters, digits and spaces, at most 8 characters without spaces.
_POSTCODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")


class AddressLookup(Protocol):
    async def by_postcode(self, postcode: str) -> list[Address]: ...

    async def by_uprn(self, uprn: str) -> Address | None: ...


def plausible_postcode(postcode: str) -> bool:
    """Worth asking about: 5 to 7 letters and digits once the spaces are gone."""
    cleaned = postcode.upper()
    return set(cleaned) <= _POSTCODE_CHARS and 5 <= len(cleaned.replace(" ", "")) <= 7


class LocalGazetteer:
    """Addresses from a CSV file (``uprn,lines,town,postcode,local_authority``; address lines
    separated by ``|``), read once."""

    def __init__(self, path: Path = SAMPLE_GAZETTEER) -> None:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self._by_uprn = {
            row["uprn"]: Address(
                row["uprn"],
                tuple(row["lines"].split("|")),
                row["town"],
                normalise_postcode(row["postcode"]),
                row["local_authority"] or None,
            )
            for row in rows
        }

    async def by_postcode(self, postcode: str) -> list[Address]:
        wanted = normalise_postcode(postcode)
        return [a for a in self._by_uprn.values() if a.postcode == wanted]

    async def by_uprn(self, uprn: str) -> Address | None:
        return self._by_uprn.get(uprn)


class OsPlacesLookup:
    """An OS Places API client (``GET /postcode?postcode=…``, ``GET /uprn?uprn=…``, DPA
    dataset). The key travels in the ``key`` header, never in a URL that a log could keep."""

    def __init__(
        self,
        api_key: str,
        custodians: Mapping[str, str],
        *,
        base_url: str = DEFAULT_OS_PLACES_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._custodians = dict(custodians)
        # NOTE: trust_env is off so that proxy variables in the environment cannot send the
        # API key anywhere but the configured service.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
            headers={"key": api_key, "User-Agent": f"GovConnect/{__version__} address lookup"},
        )

    async def by_postcode(self, postcode: str) -> list[Address]:
        params = {
            "postcode": normalise_postcode(postcode),
            "dataset": "DPA",
            "maxresults": str(MAX_RESULTS),
        }
        return await self._results("/postcode", params)

    async def by_uprn(self, uprn: str) -> Address | None:
        if not UPRN.fullmatch(uprn):
            return None
        found = await self._results("/uprn", {"uprn": uprn, "dataset": "DPA"})
        return found[0] if found else None

    async def _results(self, path: str, params: dict[str, str]) -> list[Address]:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AddressLookupError(
                f"The address service could not be reached ({type(exc).__name__}); try again."
            ) from None
        # OS Places answers 400 for a postcode or UPRN it cannot parse: nothing found.
        if response.status_code in (400, 404):
            return []
        if response.status_code != 200:
            raise AddressLookupError(
                f"The address service answered {response.status_code}; try again later."
            )
        try:
            results = response.json().get("results", [])
            return [self._address(r["DPA"]) for r in results if isinstance(r, dict) and "DPA" in r]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AddressLookupError(
                "The address service answered with something unreadable."
            ) from None

    def _address(self, dpa: dict[str, Any]) -> Address:
        town = str(dpa["POST_TOWN"])
        postcode = str(dpa["POSTCODE"])
        uprn = str(dpa["UPRN"])
        if not UPRN.fullmatch(uprn):
            raise ValueError("not a UPRN")
        # ADDRESS is the whole address in one line, ending with the town and postcode.
        parts = [p.strip() for p in str(dpa["ADDRESS"]).split(",") if p.strip()]
        lines = [p for p in parts if p not in (town, postcode)]
        custodian = str(dpa.get("LOCAL_CUSTODIAN_CODE", ""))
        return Address(uprn, tuple(lines), town, postcode, self._custodians.get(custodian))

    async def aclose(self) -> None:
        await self._http.aclose()
