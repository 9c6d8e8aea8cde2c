"""Payment collection: create, read, move through the lifecycle, refund.

The lifecycle is :mod:`payments.states`; every move goes through :meth:`PaymentService._move`,
which applies it with the store's compare-and-set script, keeps the event with the payment
and appends it to the evidence log. A move the table does not allow from the payment's
current state is refused here, whoever asks (API, payment page or expiry), so no route can
make an illegal transition.

GOV.UK Pay public API behaviours followed here ("API reference"):

- ``Idempotency-Key`` on create: the same key and body within 24 hours answers the original
  payment; the same key with another body is ``P0191``. The key is claimed with one atomic
  script, and every request holding the claim writes the payment with a create-if-absent
  script under the claimed id, so however many arrive at once exactly one payment exists,
  and a request that died between the two steps leaves nothing half made;
- a payment not finished 90 minutes after creation has expired (``failed``, ``P0020``);
  the expiry is applied when the payment is next read, as one more checked transition;
- refunds reserve their amount atomically against what is still available, so parallel
  refunds never return more than was paid; ``refund_amount_available`` that does not match
  is ``P0604``;
- every move that GOV.UK Pay reports to webhooks queues the messages
  (:mod:`payments.webhooks`); a payment of a signed-in citizen that succeeds hands a receipt
  to the :class:`~payments.receipts.ReceiptSink`;
- search (``GET /v1/payments``, ``GET /v1/refunds``) reads the account's index by creation
  time, newest first, and filters as GOV.UK Pay does;
- a mop-up (:meth:`PaymentService.expire_abandoned`, run by :mod:`payments.worker`) expires
  abandoned payments from an index of unfinished ones, without waiting for a read.

:class:`PaymentChecks` is what the delivery engine calls for "pay before submit" services.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.errors import ConfigurationError
from gateway.core.redis import RedisClient
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox, UnsealError
from gateway.core.settings import Settings
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.services import OrganisationService
from payments.errors import (
    AccountNotConfiguredError,
    CardProviderError,
    IdempotencyConflictError,
    IllegalTransitionError,
    InvalidPaymentKeyRequestError,
    PaymentLinkError,
    PaymentNotFoundError,
    PaymentRequiredError,
    RefundAmountMismatchError,
    RefundNotAvailableError,
)
from payments.keys import PaymentKeyService
from payments.models import (
    SERVICE_NAME,
    CardDetails,
    Citizen,
    Mode,
    NewPayment,
    Paging,
    Payment,
    PaymentAccount,
    PaymentEvent,
    PaymentSearch,
    Refund,
    RefundRequest,
    RefundStatus,
    SearchPage,
    new_pay_id,
    passes_luhn,
    pay_time,
)
from payments.providers import Authorisation, CardEntry, CardProvider, Outcome
from payments.providers.sandbox import SandboxProvider
from payments.providers.stripe import StripeProvider
from payments.receipts import NoReceipts, Receipt, ReceiptSink
from payments.states import (
    AUTHORISE,
    CAPTURE,
    CONFIRM,
    EXPIRE,
    EXPIRY_SECONDS,
    HOLD,
    IN_JOURNEY,
    PROVIDER_ERROR,
    REJECT,
    SERVICE_CANCEL,
    START,
    USER_CANCEL,
    Status,
    Transition,
)
from payments.store import (
    OPEN_SHARDS,
    PaymentKeyStore,
    PaymentStore,
    ServiceSettingsStore,
    WebhookStore,
)
from payments.webhooks import EVENTS_OF_TRANSITION, EventType, WebhookService

log = logging.getLogger(__name__)

PAGE_PATH = "/pay"
SYSTEM_ACTOR = "system:payments"
PAYER_ACTOR = "payer"
_DIGITS = re.compile(r"[0-9]+")
MOP_UP_BATCH = 100  # unfinished payments looked at per shard per mop-up
LOAD_BATCH = 500  # payments read in one pipelined round trip by search


@dataclass(frozen=True, slots=True)
class CardForm:
    """What the payment page's form held; ``errors`` names each field that is wrong by the
    message key the page shows. ``entry`` is set only when there are no errors."""

    entry: CardEntry | None
    errors: dict[str, str]


def read_card(
    number: str, month: str, year: str, security_code: str, name: str, today: datetime
) -> CardForm:
    """Check the card fields' shape as the GOV.UK Pay payment page does: a 12-19 digit
    number passing the Luhn check (spaces and hyphens ignored), an expiry this month or
    later, a 3 or 4 digit security code, a name. Nothing here is logged."""
    errors: dict[str, str] = {}
    digits = re.sub(r"[ -]", "", number)
    if not digits:
        errors["card-number"] = "card_number_missing"
    elif not _DIGITS.fullmatch(digits) or not 12 <= len(digits) <= 19 or not passes_luhn(digits):
        errors["card-number"] = "card_number_invalid"
    expiry_month = int(month) if _DIGITS.fullmatch(month) else 0
    expiry_year = int(year) if _DIGITS.fullmatch(year) else -1
    if 0 <= expiry_year < 100:
        expiry_year += 2000
    if not month or not year:
        errors["expiry-month"] = "expiry_missing"
    elif not 1 <= expiry_month <= 12 or expiry_year < 0:
        errors["expiry-month"] = "expiry_invalid"
    elif (expiry_year, expiry_month) < (today.year, today.month):
        errors["expiry-month"] = "expiry_past"
    if not name.strip():
        errors["cardholder-name"] = "name_missing"
    elif len(name) > 255:
        errors["cardholder-name"] = "name_too_long"
    if not _DIGITS.fullmatch(security_code) or len(security_code) not in (3, 4):
        errors["cvc"] = "cvc_invalid"
    if errors:
        return CardForm(None, errors)
    return CardForm(CardEntry(digits, expiry_month, expiry_year, security_code, name.strip()), {})


def _event(status: Status, now: datetime, transition: Transition | None = None) -> dict[str, Any]:
    return PaymentEvent(
        status,
        pay_time(now),
        transition.code if transition else None,
        transition.message if transition else None,
    ).to_json()


class PaymentService:
    def __init__(
        self,
        store: PaymentStore,
        clock: Clock,
        evidence: EvidenceLog,
        box: SecretBox,
        providers: Mapping[Mode, CardProvider],
        *,
        webhooks: WebhookService,
        base_url: str,
        receipts: ReceiptSink | None = None,
        expiry_seconds: int = EXPIRY_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._box = box
        self._providers = dict(providers)
        self._webhooks = webhooks
        self.receipts: ReceiptSink = receipts or NoReceipts()
        self.base_url = base_url
        self._expiry = timedelta(seconds=expiry_seconds)

    # --- the API --------------------------------------------------------------------------

    async def create(
        self,
        account: PaymentAccount,
        new: NewPayment,
        idempotency_key: str | None = None,
        citizen: Citizen | None = None,
    ) -> tuple[Payment, bool]:
        """Create a payment; (payment, True) when this call made it, (the original, False)
        when an ``Idempotency-Key`` repeat found it. ``citizen`` is the signed-in citizen it
        is for, when the council sent their access token.

        One round trip to the store (the payment, its first event and both indexes,
        pipelined) besides the evidence log, and one more to claim an ``Idempotency-Key``."""
        provider = self._providers.get(account.mode)
        if provider is None:
            raise AccountNotConfiguredError(
                "This account has no payment provider configured yet. Use a test key, or "
                "ask the GovConnect operator to configure a live provider."
            )
        payment_id = new_pay_id()
        repeat = False  # an earlier request with this Idempotency-Key holds the id
        if idempotency_key is not None:
            claim = json.dumps({"digest": new.digest, "payment_id": payment_id})
            held = await self._store.claim_idempotency(account.id, idempotency_key, claim)
            if held is not None:
                earlier = json.loads(held)
                if earlier["digest"] != new.digest:
                    raise IdempotencyConflictError(
                        "The Idempotency-Key was used in the last 24 hours with a different "
                        "request body. Use a new key for a new payment.",
                        header="Idempotency-Key",
                    )
                payment_id = earlier["payment_id"]
                repeat = True
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        doc = {
            "account": account.id,
            "reference": new.reference,
            "description": new.description,
            "return_url": new.return_url,
            "language": new.language,
            "email": new.email,
            "delayed_capture": new.delayed_capture,
            "metadata": new.metadata,
            "prefilled": new.prefilled,
            "created": now.isoformat(),
            "provider": provider.name,
        }
        if citizen is not None:
            doc["citizen"] = citizen.account_id
            doc["subject"] = citizen.subject
        fields: dict[str, str | int] = {
            "doc": json.dumps(doc),
            "amount": new.amount,
            "status": Status.CREATED.value,
            "refunded": 0,
            "updated": pay_time(now),
            # NOTE: the page link's token is kept sealed (AES-GCM under the data key), not
            # hashed, because a repeated create must answer the same next_url; it is deleted
            # when the page is first opened.
            "link": self._box.seal(token.encode(), context=f"payment-link:{payment_id}"),
        }
        created_ms = int(now.timestamp() * 1000)
        if not repeat:
            # A fresh id, or one whose Idempotency-Key claim this request just won: written
            # and indexed in one round trip, and known without reading it back.
            created = await self._store.create_indexed(
                payment_id, account.id, created_ms, fields, _event(Status.CREATED, now)
            )
            if created:
                payment = self._decode(payment_id, {k: str(v) for k, v in fields.items()})
            else:  # a repeat of this request raced ahead and wrote it first
                payment = await self._indexed(account, payment_id)
        else:
            created = await self._store.create(payment_id, fields, _event(Status.CREATED, now))
            payment = await self._indexed(account, payment_id)
        if created:
            await self._record(
                account.actor,
                "payment.created",
                payment_id,
                {"account": account.id, "amount": new.amount},
            )
        return payment, created

    async def _indexed(self, account: PaymentAccount, payment_id: str) -> Payment:
        """The payment created under this account's Idempotency-Key claim, as stored, indexed
        by its stored creation time: every holder of the claim indexes it (the same member
        and score), so a crash between writing and indexing is mended by any repeat."""
        found = await self._read(payment_id)
        if found is None or found.account_id != account.id:
            raise PaymentNotFoundError("The payment could not be created. Try again.")
        await self._store.index(account.id, found.id, int(found.created.timestamp() * 1000))
        return found

    async def find(self, payment_id: str) -> Payment | None:
        """Any account's payment by id (for the gateway's own callers, never the API)."""
        payment = await self._read(payment_id)
        return None if payment is None else await self._expire_if_due(payment)

    async def get(self, account: PaymentAccount, payment_id: str) -> Payment:
        payment = await self._read(payment_id)
        if payment is None or payment.account_id != account.id:
            raise PaymentNotFoundError(f"No payment has the id {payment_id!r} in this account.")
        return await self._expire_if_due(payment)

    def page_url(self, payment: Payment) -> str | None:
        """The hosted payment page (``next_url``) while its single-use link is unused."""
        if payment.link is None or payment.status.finished:
            return None
        return f"{self.base_url}{PAGE_PATH}/{payment.id}/{payment.link}"

    async def events(self, account: PaymentAccount, payment_id: str) -> list[PaymentEvent]:
        await self.get(account, payment_id)
        return [PaymentEvent.from_json(row) for row in await self._store.events(payment_id)]

    async def cancel(self, account: PaymentAccount, payment_id: str) -> Payment:
        """Cancel by the service (``P0040``): any unfinished payment, a capturable one too."""
        payment = await self.get(account, payment_id)
        moved = await self._move(payment, SERVICE_CANCEL, account.actor, code="P0502")
        await self._release(moved)
        return moved

    async def capture(self, account: PaymentAccount, payment_id: str) -> Payment:
        """Take a delayed-capture payment. Only the request that moves it calls the provider;
        a repeat on a captured payment is answered as done and takes nothing more."""
        payment = await self.get(account, payment_id)
        if payment.status is Status.SUCCESS and payment.delayed_capture:
            return payment
        now = self._clock.now()
        try:
            moved = await self._move(
                payment,
                CAPTURE,
                account.actor,
                code="P1003",
                fields={"capture_submitted": pay_time(now)},
            )
        except IllegalTransitionError:
            again = await self.get(account, payment_id)
            if again.status is Status.SUCCESS:
                return again
            raise
        await self._take(moved)
        return moved

    async def refund(
        self, account: PaymentAccount, payment_id: str, request: RefundRequest
    ) -> Refund:
        payment = await self.get(account, payment_id)
        refund = Refund(
            new_pay_id(),
            payment.id,
            request.amount,
            RefundStatus.SUBMITTED,
            pay_time(self._clock.now()),
        )
        outcome, figure = await self._store.take_refund(
            payment.id,
            refund.id,
            request.amount,
            request.refund_amount_available,
            refund.to_json(),
        )
        if outcome == -2:
            raise RefundAmountMismatchError(
                f"Refund amount available mismatch: {figure} pence is available now. Read "
                "the payment again and retry with that refund_amount_available.",
                field="refund_amount_available",
            )
        if outcome == -3:
            raise RefundNotAvailableError(
                f"Not sufficient amount available for refund: {figure} pence is available.",
                field="amount",
            )
        if outcome != 1:
            raise RefundNotAvailableError(
                "The payment is not available for refund. Payment refund status: "
                f"{payment.refund_status()}"
            )
        await self._record(
            account.actor,
            "payment.refund-submitted",
            payment.id,
            {"refund_id": refund.id, "amount": refund.amount},
        )
        await self._store.index_refund(
            account.id, payment.id, refund.id, int(self._clock.now().timestamp() * 1000)
        )
        provider = self._providers[account.mode]
        accepted = await provider.refund(payment.provider_id or "", refund.id, refund.amount)
        settled = replace(refund, status=RefundStatus.SUCCESS if accepted else RefundStatus.ERROR)
        await self._store.settle_refund(
            payment.id, settled.to_json(), 0 if accepted else refund.amount
        )
        await self._record(
            SYSTEM_ACTOR,
            f"payment.refund-{settled.status.value}",
            payment.id,
            {"refund_id": refund.id, "amount": refund.amount},
        )
        if accepted:
            await self._webhooks.emit(
                account.id,
                (EventType.REFUNDED,),
                "refund",
                settled.id,
                settled.to_api(self.base_url),
            )
        return settled

    async def refunds(self, account: PaymentAccount, payment_id: str) -> list[Refund]:
        await self.get(account, payment_id)
        return [Refund.from_json(row) for row in await self._store.refunds(payment_id)]

    async def get_refund(self, account: PaymentAccount, payment_id: str, refund_id: str) -> Refund:
        await self.get(account, payment_id)
        row = await self._store.refund(payment_id, refund_id)
        if row is None:
            raise PaymentNotFoundError(
                f"No refund has the id {refund_id!r} for this payment.", code="P0700"
            )
        return Refund.from_json(row)

    async def search(self, account: PaymentAccount, query: PaymentSearch) -> SearchPage[Payment]:
        """``GET /v1/payments``: the account's payments created in the date range, newest
        first, that pass the filters; ``P0402`` for a page past the last.

        # NOTE: every payment of the account in the date range is read (in pipelined
        # batches) to count the matches; callers with many payments give a date range."""
        low, high = query.paging.range_ms()
        ids = await self._store.account_page(account.id, low, high)
        matched: list[Payment] = []
        for start in range(0, len(ids), LOAD_BATCH):
            batch = ids[start : start + LOAD_BATCH]
            for payment_id, fields in zip(batch, await self._store.load_many(batch), strict=True):
                if fields:
                    payment = await self._expire_if_due(self._decode(payment_id, fields))
                    if query.matches(payment):
                        matched.append(payment)
        return _page(matched, query.paging, "P0402")

    async def search_refunds(self, account: PaymentAccount, paging: Paging) -> SearchPage[Refund]:
        """``GET /v1/refunds``: the account's refunds created in the date range, newest
        first; ``P1100`` for a page past the last."""
        low, high = paging.range_ms()
        pairs = await self._store.account_refunds(account.id, low, high)
        rows = await self._store.refunds_of(pairs)
        return _page([Refund.from_json(row) for row in rows if row], paging, "P1100")

    async def expire_abandoned(self) -> int:
        """The mop-up: expire (``failed``, ``P0020``) every unfinished payment older than
        the expiry, and drop finished ones from the index; how many it expired. Safe to run
        in many processes at once: each expiry is the usual compare-and-set."""
        cutoff_ms = int((self._clock.now() - self._expiry).timestamp() * 1000)
        expired = 0
        for shard in range(OPEN_SHARDS):
            ids = await self._store.open_before(shard, cutoff_ms, MOP_UP_BATCH)
            for payment_id, fields in zip(ids, await self._store.load_many(ids), strict=True):
                if not fields:
                    await self._store.finished(payment_id)
                    continue
                payment = self._decode(payment_id, fields)
                if payment.status.finished:
                    await self._store.finished(payment_id)
                    continue
                after = await self._expire_if_due(payment)
                if after.status is not payment.status and after.code == EXPIRE.code:
                    expired += 1
                if after.status is Status.CAPTURABLE:
                    # Held for the service to capture: GOV.UK Pay does not expire it.
                    await self._store.finished(payment_id)
        return expired

    # --- the hosted payment page ----------------------------------------------------------

    async def open_page(self, payment_id: str, token: str, browser: str) -> Payment:
        """Use the single-use ``next_url``: the first visit binds the payment to the browser
        (``browser`` is the handle of its session) and starts it; that browser may come back,
        no other can."""
        fields = await self._store.load(payment_id)
        if not fields:
            raise PaymentLinkError("This payment link is not valid.")
        payment = await self._expire_if_due(self._decode(payment_id, fields))
        if fields.get("page_session") == browser:
            return payment
        if payment.link is None or not hmac.compare_digest(payment.link, token):
            raise PaymentLinkError("This payment link has been used or is not valid.")
        now = self._clock.now()
        opened = await self._store.open_page(payment_id, browser, START, _event(START.target, now))
        if opened == 0:
            raise PaymentLinkError("This payment link has been used.")
        if opened == 1:
            await self._record(PAYER_ACTOR, "payment.started", payment_id, {})
        fresh = await self._read(payment_id)
        assert fresh is not None
        return fresh

    async def for_page(self, payment_id: str, browser: str) -> Payment:
        """The payment this browser opened; :class:`PaymentLinkError` for any other."""
        fields = await self._store.load(payment_id)
        if not fields or fields.get("page_session") != browser:
            raise PaymentLinkError("This payment is not open in this browser.")
        payment = self._decode(payment_id, fields)
        return await self._expire_if_due(payment)

    def accepts(self, payment: Payment, entry: CardEntry) -> bool:
        """Whether the payment's provider can take this card at all."""
        return self._providers[self._mode(payment)].recognises(entry)

    async def submit_card(self, payment_id: str, browser: str, entry: CardEntry) -> Payment:
        """Authorise the card: ``submitted`` (waiting for the payer to confirm), ``failed``
        with ``P0010`` when declined, ``error`` with ``P0050`` when the provider failed."""
        payment = await self.for_page(payment_id, browser)
        if payment.status is not Status.STARTED:
            raise IllegalTransitionError(
                f"The payment is {payment.status.value}; card details are not wanted now."
            )
        provider = self._providers[self._mode(payment)]
        result = await provider.authorise(payment.id, payment.amount, entry)
        card = self._with_address(result, payment)
        fields: dict[str, str | int] = {"card": json.dumps(card.to_json())}
        if result.provider_id:
            fields["provider_id"] = result.provider_id
        transition = {
            Outcome.AUTHORISED: AUTHORISE,
            Outcome.DECLINED: REJECT,
            Outcome.ERROR: PROVIDER_ERROR,
        }[result.outcome]
        try:
            return await self._move(payment, transition, PAYER_ACTOR, fields=fields)
        except IllegalTransitionError:
            if result.provider_id:
                # Another request moved the payment first (expired, cancelled, submitted
                # twice): this authorisation will never be used.
                await provider.release(result.provider_id)
            raise

    async def confirm(self, payment_id: str, browser: str) -> Payment:
        """The payer confirms: ``success`` (captured now) or ``capturable`` (delayed)."""
        payment = await self.for_page(payment_id, browser)
        if payment.delayed_capture:
            return await self._move(payment, HOLD, PAYER_ACTOR)
        now = self._clock.now()
        moved = await self._move(
            payment, CONFIRM, PAYER_ACTOR, fields={"capture_submitted": pay_time(now)}
        )
        try:
            await self._take(moved)
        except CardProviderError as exc:
            # The card is authorised and the payment is success with its capture submitted,
            # as GOV.UK Pay reports one whose capture its own retries have not yet done; the
            # payer is told it went through (it will), the operator is told to capture it.
            log.error("capture failed; capture it at the provider", extra={"payment": moved.id})
            await self._record(
                SYSTEM_ACTOR, "payment.capture-failed", moved.id, {"detail": exc.detail}
            )
        return moved

    async def cancel_by_payer(self, payment_id: str, browser: str) -> Payment:
        payment = await self.for_page(payment_id, browser)
        moved = await self._move(payment, USER_CANCEL, PAYER_ACTOR)
        await self._release(moved)
        return moved

    # --- inside ---------------------------------------------------------------------------

    async def _move(
        self,
        payment: Payment,
        transition: Transition,
        actor: str,
        *,
        code: str = "P0198",
        fields: Mapping[str, str | int] | None = None,
    ) -> Payment:
        """Apply ``transition`` atomically, or :class:`IllegalTransitionError` naming the
        state that forbids it (with the API ``code`` for that refusal)."""
        now = self._clock.now()
        extra: dict[str, str | int] = {"updated": pay_time(now), **(fields or {})}
        if transition.code:
            extra["code"] = transition.code
            extra["message"] = transition.message or ""
        moved, before = await self._store.transition(
            payment.id,
            transition,
            _event(transition.target, now, transition),
            extra,
            forget="link" if transition.target.finished else "",
        )
        if not moved:
            raise IllegalTransitionError(
                f"The payment is {before or 'gone'}; the step '{transition.name}' is not "
                "possible from there.",
                code=code,
            )
        await self._record(
            actor,
            f"payment.{transition.target.value}",
            payment.id,
            {"from": before, "transition": transition.name, "code": transition.code},
        )
        fresh = await self._read(payment.id)
        assert fresh is not None
        await self._after_move(fresh, transition)
        return fresh

    async def _after_move(self, payment: Payment, transition: Transition) -> None:
        """What follows a move: the unfinished index, webhooks, the citizen's receipt."""
        if payment.status.finished:
            await self._store.finished(payment.id)
        await self._webhooks.emit(
            payment.account_id,
            EVENTS_OF_TRANSITION.get(transition.name, ()),
            "payment",
            payment.id,
            payment.to_api(self.base_url),
        )
        if payment.citizen is not None and payment.status is Status.SUCCESS:
            card = payment.card
            await self.receipts.payment_received(
                Receipt(
                    payment_id=payment.id,
                    account_id=payment.citizen.account_id,
                    org_id=payment.org_id,
                    service=payment.service,
                    amount=payment.amount,
                    reference=payment.reference,
                    description=payment.description,
                    paid_at=self._clock.now().isoformat(),
                    card_brand=card.brand if card else None,
                    last_digits=card.last_digits if card else None,
                )
            )

    async def _expire_if_due(self, payment: Payment) -> Payment:
        if payment.status not in IN_JOURNEY or self._clock.now() - payment.created < self._expiry:
            return payment
        try:
            expired = await self._move(payment, EXPIRE, SYSTEM_ACTOR)
        except IllegalTransitionError:
            fresh = await self._read(payment.id)  # someone else moved it meanwhile
            assert fresh is not None
            return fresh
        await self._release(expired)
        return expired

    async def _take(self, payment: Payment) -> None:
        if payment.provider_id:
            await self._providers[self._mode(payment)].capture(payment.provider_id, payment.amount)

    async def _release(self, payment: Payment) -> None:
        if payment.provider_id:
            await self._providers[self._mode(payment)].release(payment.provider_id)

    async def _record(
        self, actor: str, action: str, payment_id: str, details: dict[str, Any]
    ) -> None:
        await self._evidence.record(Event(actor, action, payment_id, details))

    @staticmethod
    def _mode(payment: Payment) -> Mode:
        return payment.mode

    @staticmethod
    def _with_address(result: Authorisation, payment: Payment) -> CardDetails:
        address = payment.prefilled.get("billing_address") or {}
        return replace(result.card, billing_address=dict(address)) if address else result.card

    async def _read(self, payment_id: str) -> Payment | None:
        fields = await self._store.load(payment_id)
        return self._decode(payment_id, fields) if fields else None

    def _decode(self, payment_id: str, fields: dict[str, str]) -> Payment:
        doc = json.loads(fields["doc"])
        status = Status(fields["status"])
        link = None
        sealed = fields.get("link")
        if sealed and not status.finished:
            try:
                link = self._box.open(sealed, context=f"payment-link:{payment_id}").decode()
            except UnsealError:
                log.warning("payment link would not unseal", extra={"payment_id": payment_id})
        card = fields.get("card")
        citizen = doc.get("citizen")
        fee = fields.get("fee")
        return Payment(
            id=payment_id,
            account_id=doc["account"],
            amount=int(fields["amount"]),
            reference=doc["reference"],
            description=doc["description"],
            return_url=doc["return_url"],
            language=doc["language"],
            email=doc.get("email"),
            delayed_capture=bool(doc["delayed_capture"]),
            metadata=doc.get("metadata") or {},
            prefilled=doc.get("prefilled") or {},
            created=datetime.fromisoformat(doc["created"]),
            status=status,
            provider=doc["provider"],
            code=fields.get("code"),
            message=fields.get("message"),
            card=CardDetails.from_json(json.loads(card)) if card else None,
            provider_id=fields.get("provider_id"),
            refunded=int(fields.get("refunded", "0")),
            capture_submitted=fields.get("capture_submitted"),
            link=link,
            citizen=Citizen(citizen, doc["subject"]) if citizen else None,
            fee=int(fee) if fee is not None else None,
        )


def _page(found: list[Any], paging: Paging, not_found_code: str) -> SearchPage[Any]:
    page = SearchPage(
        found[(paging.page - 1) * paging.display_size : paging.page * paging.display_size],
        len(found),
        paging.page,
        paging.display_size,
    )
    if paging.page > page.last_page:
        raise PaymentNotFoundError(
            f"Page not found: there are {page.last_page} page(s) of results.",
            code=not_found_code,
            field="page",
        )
    return page


@dataclass(frozen=True, slots=True)
class ServicePaymentSettings:
    """A council service's payment settings: ``pay_before_submit`` makes its submissions
    wait for a successful payment."""

    org_id: str
    service: str
    pay_before_submit: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "service": self.service,
            "pay_before_submit": self.pay_before_submit,
        }


class PaymentChecks:
    """What the delivery engine asks of payments (DESIGN.md §5, "pay, then submit").

    The delivery engine names a payment service by the council's organisation id and the
    service name its payment API keys were issued for (``--service``); it calls
    :meth:`require_payment` before accepting a submission to such a service, and keeps the
    returned payment id with the submission. Setting a service with
    ``govconnect payments services set --pay-before-submit`` is what turns the check on."""

    def __init__(
        self,
        store: ServiceSettingsStore,
        payments: PaymentService,
        evidence: EvidenceLog,
        organisations: OrganisationService,
    ) -> None:
        self._store = store
        self._payments = payments
        self._evidence = evidence
        self._organisations = organisations

    async def settings(self, org_id: str, service: str) -> ServicePaymentSettings:
        raw = await self._store.get(org_id, service)
        return ServicePaymentSettings(
            org_id, service, bool(raw and raw.get("pay_before_submit", False))
        )

    async def set_pay_before_submit(
        self, org_id: str, service: str, required: bool, actor: Actor
    ) -> ServicePaymentSettings:
        if not SERVICE_NAME.fullmatch(service):
            raise InvalidPaymentKeyRequestError(
                f"The service name {service!r} must start with a-z and use only a-z, 0-9 "
                "and '-' (at most 63 characters)."
            )
        organisation = await self._organisations.get(org_id)
        settings = ServicePaymentSettings(organisation.id, service, required)
        await self._store.put(organisation.id, service, settings.to_json())
        await self._evidence.record(
            Event(
                str(actor),
                "payment-service.updated",
                f"{organisation.id}:{service}",
                settings.to_json(),
            )
        )
        return settings

    async def successful_payment(
        self, payment_id: str, org_id: str, service: str, *, include_test: bool = False
    ) -> Payment | None:
        """The payment if it is a ``success`` of that council service (of its live account,
        or its test account too with ``include_test``); ``None`` otherwise."""
        if not payment_id or len(payment_id) > 64:
            return None
        payment = await self._payments.find(payment_id)
        if payment is None:
            return None
        modes = {Mode.LIVE, Mode.TEST} if include_test else {Mode.LIVE}
        if (
            payment.org_id != org_id
            or payment.service != service
            or payment.mode not in modes
            or payment.status is not Status.SUCCESS
        ):
            return None
        return payment

    async def require_payment(
        self, org_id: str, service: str, payment_id: str | None, *, include_test: bool = False
    ) -> Payment | None:
        """``None`` when the service does not take payment first; otherwise the successful
        payment named, or :class:`PaymentRequiredError`."""
        if not (await self.settings(org_id, service)).pay_before_submit:
            return None
        payment = await self.successful_payment(
            payment_id or "", org_id, service, include_test=include_test
        )
        if payment is None:
            raise PaymentRequiredError(
                "This service takes payment before submission: pay first, then submit with "
                "the id of the successful payment."
            )
        return payment


@dataclass(frozen=True, slots=True)
class Payments:
    """What the runtime holds of payments: API keys, the payment service, webhooks and the
    checks the delivery engine calls."""

    keys: PaymentKeyService
    payments: PaymentService
    webhooks: WebhookService
    checks: PaymentChecks


def build_payments(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    organisations: OrganisationService,
    receipts: ReceiptSink | None = None,
) -> Payments:
    """Build the payment services on the store. Test keys use the sandbox; live keys use the
    provider ``payments_live_provider`` names, or when unset the sandbox in development and
    none in production (docs/payments.md, "Card providers")."""
    sandbox = SandboxProvider()
    providers: dict[Mode, CardProvider] = {Mode.TEST: sandbox}
    live = settings.payments_live_provider
    if live == "stripe":
        if settings.stripe_secret_key is None:
            raise ConfigurationError(
                "GOVCONNECT_PAYMENTS_LIVE_PROVIDER=stripe needs GOVCONNECT_STRIPE_SECRET_KEY"
            )
        providers[Mode.LIVE] = StripeProvider(
            settings.stripe_secret_key.get_secret_value(), api_base=settings.stripe_api_base
        )
    elif live == "sandbox" or not settings.is_production:
        # NOTE: a development gateway takes "live" payments with the sandbox so the whole
        # journey can be tried with live keys; production refuses to start with it named
        # (Settings.development_shortcuts) and has no live provider when it is unset.
        providers[Mode.LIVE] = sandbox
    box = SecretBox.load(settings.pki_dir / DATA_KEY_FILE_NAME)
    store = PaymentStore(redis)
    webhooks = WebhookService(WebhookStore(redis), clock, evidence, box, organisations)
    payments = PaymentService(
        store,
        clock,
        evidence,
        box,
        providers,
        webhooks=webhooks,
        base_url=settings.issuer,
        receipts=receipts,
    )
    return Payments(
        keys=PaymentKeyService(
            PaymentKeyStore(redis),
            clock,
            evidence,
            organisations,
            rate_limit=settings.payments_rate_limit_per_second,
        ),
        payments=payments,
        webhooks=webhooks,
        checks=PaymentChecks(ServiceSettingsStore(redis), payments, evidence, organisations),
    )
