"""The address-lookup port: the sample gazetteer, and the OS Places client against an OS
Places-shaped service on an httpx transport (the outside service, not our infrastructure)."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.moves.addresses import LocalGazetteer, OsPlacesLookup, plausible_postcode
from gateway.moves.errors import AddressLookupError
from gateway.moves.models import normalise_postcode

KEY = "os-test-key"
DPA = {
    "UPRN": "10023117655",
    "ADDRESS": "FLAT 2, 14, HIGH STREET, EXAMPLETON, EX1 1AA",
    "POST_TOWN": "EXAMPLETON",
    "POSTCODE": "EX1 1AA",
    "LOCAL_CUSTODIAN_CODE": 1234,
}


def _places(answer: httpx.Response, seen: list[httpx.Request]) -> OsPlacesLookup:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return OsPlacesLookup(
        KEY,
        {"1234": "E06009999"},
        base_url="https://places.example/search/places/v1",
        transport=httpx.MockTransport(handler),
    )


async def test_the_sample_gazetteer_finds_addresses_by_postcode_however_typed_and_by_uprn() -> None:
    gazetteer = LocalGazetteer()
    found = await gazetteer.by_postcode(" bf12ab ")
    assert [a.uprn for a in found] == [
        "100190000101",
        "100190000102",
        "100190000103",
        "100190000104",
    ]
    assert found[2].lines == ("Flat 2", "5 Orchard Row") and found[2].local_authority == "E06009901"
    assert await gazetteer.by_uprn("100290000102") is not None
    assert await gazetteer.by_uprn("1") is None
    assert await gazetteer.by_postcode("ZZ9 9ZZ") == []


@pytest.mark.parametrize(
    ("typed", "plausible"),
    [("BF1 2AB", True), ("bf12ab", True), ("SW1A 2AA", True), ("1", False), ("BF1<script>", False)],
)
def test_only_plausible_postcodes_are_looked_up(typed: str, plausible: bool) -> None:
    assert plausible_postcode(typed) is plausible


def test_postcodes_are_normalised() -> None:
    assert normalise_postcode("sw1a2aa") == "SW1A 2AA"


async def test_os_places_maps_dpa_results_with_the_key_in_a_header_never_the_url() -> None:
    seen: list[httpx.Request] = []
    places = _places(httpx.Response(200, json={"results": [{"DPA": DPA}]}), seen)
    (address,) = await places.by_postcode("ex11aa")
    assert address.uprn == "10023117655"
    assert address.lines == ("FLAT 2", "14", "HIGH STREET")
    assert (address.town, address.postcode) == ("EXAMPLETON", "EX1 1AA")
    assert address.local_authority == "E06009999", "custodian 1234 maps to its GSS code"
    request = seen[0]
    assert request.url.path == "/search/places/v1/postcode"
    assert request.url.params["postcode"] == "EX1 1AA"
    assert request.headers["key"] == KEY and KEY not in str(request.url)
    await places.aclose()


async def test_os_places_by_uprn_refuses_junk_before_asking() -> None:
    seen: list[httpx.Request] = []
    places = _places(httpx.Response(200, json={"results": [{"DPA": DPA}]}), seen)
    assert await places.by_uprn("1 OR 1=1") is None
    assert seen == []
    found = await places.by_uprn("10023117655")
    assert found is not None and seen[0].url.params["uprn"] == "10023117655"


async def test_an_unknown_custodian_suggests_no_council() -> None:
    other = {**DPA, "LOCAL_CUSTODIAN_CODE": 9999}
    places = _places(httpx.Response(200, json={"results": [{"DPA": other}]}), [])
    (address,) = await places.by_postcode("EX1 1AA")
    assert address.local_authority is None


async def test_os_places_400_means_nothing_found() -> None:
    places = _places(httpx.Response(400, json={"error": {"message": "bad postcode"}}), [])
    assert await places.by_postcode("EX1 1AA") == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(401, json={"fault": "invalid key"}),
        httpx.Response(200, content=b"<html>not json</html>"),
        httpx.Response(200, content=json.dumps({"results": [{"DPA": {"UPRN": "x"}}]}).encode()),
    ],
)
async def test_a_failing_or_garbled_os_places_answer_is_an_address_lookup_error(
    answer: httpx.Response,
) -> None:
    places = _places(answer, [])
    with pytest.raises(AddressLookupError):
        await places.by_postcode("EX1 1AA")


async def test_an_unreachable_os_places_is_an_address_lookup_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    places = OsPlacesLookup(KEY, {}, transport=httpx.MockTransport(handler))
    with pytest.raises(AddressLookupError):
        await places.by_postcode("EX1 1AA")
