"""Errors of the delivery engine (DESIGN.md §3).

DeliveryError
├── InvalidServiceError              (invalid: a service definition that cannot work, such as
│                                     a JSON Schema that is not one)
├── ServiceNotFoundError             (not-found: no service of that name and version)
├── DuplicateServiceError            (conflict: that name and version is registered already)
├── RouteNotFoundError               (not-found: no routing rule by that id)
├── DuplicateRouteError              (conflict: the same sender, service and recipient rule)
├── NoRoutingRuleError               (forbidden: no rule lets this sender send this service
│                                     to that recipient)
├── SubmissionRefusedError           (invalid: the submission breaks the service's rules)
│   ├── SchemaValidationError        (the body fails the service's JSON Schema; ``errors``)
│   ├── SubmissionTooLargeError      (the body or an attachment is over the service's limit)
│   ├── AttachmentRefusedError       (an attachment of a type the service does not take,
│   │                                 whose content is not its declared type, badly named,
│   │                                 or one too many)
│   └── SenderSignatureError         (the sender's own signature does not verify over the
│                                     payload with a key registered for its client)
├── LevelNotMetError                 (forbidden: a back-office token where the service
│                                     demands a citizen's sign-in level)
├── IdempotencyKeyError              (invalid: the Idempotency-Key header is missing or junk)
├── IdempotencyConflictError         (conflict: the key was used with a different request)
├── SubmissionNotFoundError          (not-found: no such submission, or not the caller's)
├── AttachmentNotFoundError          (not-found: no such attachment of that submission, or
│                                     its retention ended)
├── InvalidCursorError               (invalid: an inbox cursor this API did not give)
├── InvalidAcknowledgementError      (invalid: a recipient acknowledgement that is not
│                                     signed by the recipient's registered key over this
│                                     submission)
├── InvalidResponseError             (invalid: a business response in the wrong shape or
│                                     state)
├── SenderNotAllowedError            (forbidden: the token's client cannot use this API)
├── RecipientSettingsError           (invalid: push without an endpoint, and the like)
├── EnvelopeVerificationError        (invalid: an envelope or receipt that does not verify)
└── WebhookDeliveryError             (unavailable: the recipient's endpoint did not take a
                                      submission; ``retryable`` says whether to try again)
"""

from __future__ import annotations

from typing import Any

from gateway.core.errors import Category, GovConnectError


class DeliveryError(GovConnectError):
    slug = "delivery-error"
    title = "Delivery error"


class InvalidServiceError(DeliveryError):
    category = Category.INVALID
    slug = "invalid-service"
    title = "Invalid service definition"


class ServiceNotFoundError(DeliveryError):
    category = Category.NOT_FOUND
    slug = "service-not-found"
    title = "Service not found"


class DuplicateServiceError(DeliveryError):
    category = Category.CONFLICT
    slug = "duplicate-service"
    title = "Service already registered"


class RouteNotFoundError(DeliveryError):
    category = Category.NOT_FOUND
    slug = "route-not-found"
    title = "Routing rule not found"


class DuplicateRouteError(DeliveryError):
    category = Category.CONFLICT
    slug = "duplicate-route"
    title = "Routing rule already registered"


class NoRoutingRuleError(DeliveryError):
    category = Category.FORBIDDEN
    slug = "no-routing-rule"
    title = "No routing rule allows this submission"


class SubmissionRefusedError(DeliveryError):
    category = Category.INVALID
    slug = "submission-refused"
    title = "Submission refused"


class SchemaValidationError(SubmissionRefusedError):
    slug = "schema-validation-failed"
    title = "The body does not match the service's schema"

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)


class SubmissionTooLargeError(SubmissionRefusedError):
    slug = "submission-too-large"
    title = "Submission too large"


class AttachmentRefusedError(SubmissionRefusedError):
    slug = "attachment-refused"
    title = "Attachment refused"


class SenderSignatureError(SubmissionRefusedError):
    slug = "sender-signature-invalid"
    title = "The sender's signature does not verify"


class LevelNotMetError(DeliveryError):
    category = Category.FORBIDDEN
    slug = "level-not-met"
    title = "Level of assurance not met"


class IdempotencyKeyError(DeliveryError):
    category = Category.INVALID
    slug = "idempotency-key-required"
    title = "Idempotency-Key required"


class IdempotencyConflictError(DeliveryError):
    category = Category.CONFLICT
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class SubmissionNotFoundError(DeliveryError):
    category = Category.NOT_FOUND
    slug = "submission-not-found"
    title = "Submission not found"


class AttachmentNotFoundError(DeliveryError):
    category = Category.NOT_FOUND
    slug = "attachment-not-found"
    title = "Attachment not found"


class InvalidCursorError(DeliveryError):
    category = Category.INVALID
    slug = "invalid-cursor"
    title = "Invalid inbox cursor"


class InvalidAcknowledgementError(DeliveryError):
    category = Category.INVALID
    slug = "invalid-acknowledgement"
    title = "Acknowledgement refused"


class InvalidResponseError(DeliveryError):
    category = Category.INVALID
    slug = "invalid-business-response"
    title = "Business response refused"


class SenderNotAllowedError(DeliveryError):
    category = Category.FORBIDDEN
    slug = "sender-not-allowed"
    title = "Not allowed to use the submissions API"


class RecipientSettingsError(DeliveryError):
    category = Category.INVALID
    slug = "invalid-recipient-settings"
    title = "Invalid recipient delivery settings"


class EnvelopeVerificationError(DeliveryError):
    category = Category.INVALID
    slug = "envelope-not-verified"
    title = "Envelope or receipt does not verify"


class WebhookDeliveryError(DeliveryError):
    category = Category.UNAVAILABLE
    slug = "webhook-not-delivered"
    title = "Submission not delivered"

    def __init__(self, detail: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(detail, retryable=retryable, status_code=status_code)
        self.retryable = retryable
        self.status_code = status_code
