"""The businesses a person may act for at sign-in, from their memberships
(``trust_levels.businesses``), as the ``org`` claim names them."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.authorize.services import Affiliation
from trust_levels.businesses.services import BusinessService


class BusinessAffiliations:
    """:class:`~gateway.authorize.services.Affiliations` backed by business memberships."""

    def __init__(self, businesses: BusinessService) -> None:
        self._businesses = businesses

    async def of(self, account_id: str) -> Sequence[Affiliation]:
        return [
            Affiliation(business.id, business.name, business.number, membership.role.value)
            for business, membership in await self._businesses.memberships(account_id)
        ]
