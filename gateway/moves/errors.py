"""Errors of Tell Us Once (reporting a change of address).

MoveError
├── MovesNotConfiguredError      (unavailable: the hub organisation, its client or its team is
│                                 missing; ``govconnect moves hub`` sets them up)
├── AddressLookupError           (unavailable: the address service did not answer usefully)
├── AddressNotFoundError         (not-found: no address has that UPRN, or none that postcode)
├── InvalidMoveError             (invalid: a move that cannot be right, e.g. the same address
│                                 twice or a moving date far off)
├── MoveNotFoundError            (not-found: no such move *of this person*; another person's
│                                 answers exactly the same)
├── OrganisationNotOfferedError  (invalid: an organisation that has no change-of-address
│                                 service to be told through)
├── MoveAlreadySentError         (conflict: consent cannot change once the move was sent)
└── ChangeNotFoundError          (not-found: no change of address was sent to the caller's
                                  organisation under that submission id)
"""

from __future__ import annotations

from gateway.core.errors import Category, GovConnectError


class MoveError(GovConnectError):
    slug = "move-error"
    title = "Change of address error"


class MovesNotConfiguredError(MoveError):
    category = Category.UNAVAILABLE
    slug = "moves-not-configured"
    title = "Tell Us Once is not set up"


class AddressLookupError(MoveError):
    category = Category.UNAVAILABLE
    slug = "address-lookup-unavailable"
    title = "Address lookup unavailable"


class AddressNotFoundError(MoveError):
    category = Category.NOT_FOUND
    slug = "address-not-found"
    title = "Address not found"


class InvalidMoveError(MoveError):
    category = Category.INVALID
    slug = "invalid-move"
    title = "Invalid move"


class MoveNotFoundError(MoveError):
    category = Category.NOT_FOUND
    slug = "move-not-found"
    title = "Move not found"


class OrganisationNotOfferedError(MoveError):
    category = Category.INVALID
    slug = "organisation-not-offered"
    title = "Organisation not offered"


class MoveAlreadySentError(MoveError):
    category = Category.CONFLICT
    slug = "move-already-sent"
    title = "Move already sent"


class ChangeNotFoundError(MoveError):
    category = Category.NOT_FOUND
    slug = "change-not-found"
    title = "Change of address not found"
