"""The back-channel endpoints: ``/token``, ``/revoke``, ``/introspect`` and ``/userinfo``.

Authentication: token, revocation and introspection authenticate the client (RFC 6749 §2.3,
RFC 7523: ``private_key_jwt``, ``client_secret_basic`` or ``client_secret_post``; RFC 8705
§2.1 ``tls_client_auth`` with a forwarded organisation certificate; whichever the client
registered); userinfo takes an access token in the ``Authorization`` header (``Bearer``,
RFC 6750 §2.1, or ``DPoP``, RFC 9449 §7.1), with its certificate if bound to one (RFC 8705
§3). Errors are OAuth error documents (:mod:`gateway.oidc.responses`); every response is
``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from gateway.clients.models import AuthMethod, Client
from gateway.core.deps import RuntimeDep, get_runtime
from gateway.core.http import DirectEndpoint
from gateway.oidc.errors import InvalidRequestError, InvalidTokenError, OAuthError
from gateway.oidc.responses import oauth_error_response
from gateway.organisations.client_cert import certificate_der, forwarded, thumbprint
from gateway.tokens.dpop import DPOP_ALGORITHMS, single_proof
from gateway.tokens.errors import ResourceDpopProofError
from gateway.tokens.models import (
    INTROSPECTION_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)

router = APIRouter(tags=["oauth"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 50
# RFC 8707 §2: ``resource`` may repeat; every other parameter appears at most once
# (RFC 6749 §3.1, §3.2).
_REPEATABLE = frozenset({"resource"})

AuthorizationHeader = Annotated[str | None, Header(include_in_schema=False)]


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    """An ``application/x-www-form-urlencoded`` body (RFC 6749 §3.2) and its ``resource``
    values; a parameter given twice is refused."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequestError(f"Send the parameters as {_FORM} (RFC 6749 §3.2).")
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("The body is not a valid form of UTF-8 parameters.") from None
    form: dict[str, str] = {}
    resources: list[str] = []
    for name, value in pairs:
        if name in _REPEATABLE:
            resources.append(value)
        elif name in form:
            raise InvalidRequestError(f"The {name} parameter is given more than once.")
        else:
            form[name] = value
    return form, resources


async def _client(
    runtime: RuntimeDep, request: Request, form: Mapping[str, str], endpoint: str
) -> Client:
    return await runtime.client_auth.authenticate(
        form,
        request.headers.get("authorization"),
        endpoint=endpoint,
        certificate=forwarded(request.scope),
    )


@router.post(
    TOKEN_PATH,
    summary="Token endpoint (RFC 6749 §3.2): client-authenticated (RFC 8705 mTLS too); DPoP "
    "optional",
)
async def token(request: Request) -> JSONResponse:
    """Exchange an authorization code, a refresh token or client credentials for tokens.

    Takes only the request, so :class:`~gateway.core.http.EdgeMiddleware` can call it
    directly (see :data:`DIRECT`); FastAPI serves it too, with the same result.
    """
    runtime = await get_runtime(request)
    form, resources = await _form(request)
    client = await _client(runtime, request, form, runtime.tokens.endpoints.token)
    proof = single_proof(request.headers.getlist("dpop"))
    x5t = None
    certificate = forwarded(request.scope)
    if client.token_endpoint_auth_method is AuthMethod.TLS_CLIENT_AUTH and certificate:
        # RFC 8705 §3: tokens of a client that authenticated with its certificate are bound
        # to it (the certificate was checked in full by _client).
        x5t = thumbprint(certificate_der(certificate))
    issued = await runtime.tokens.token(client, form, resources, proof, x5t)
    return JSONResponse(issued.to_json(), headers=_NO_STORE)


# The busiest endpoint by far (client_credentials at machine-to-machine rates): the edge
# middleware dispatches it without FastAPI's routing and dependency resolution.
DIRECT: dict[tuple[str, str], DirectEndpoint] = {("POST", TOKEN_PATH): token}


@router.post(
    REVOCATION_PATH,
    summary="Token revocation (RFC 7009): client-authenticated",
)
async def revoke(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """Revoke a refresh token (and its grant) or an access token; 200 even for unknown ones."""
    form, _ = await _form(request)
    client = await _client(runtime, request, form, runtime.tokens.endpoints.revocation)
    token_value = form.get("token")
    if not token_value:
        raise InvalidRequestError("The token parameter is required (RFC 7009 §2.1).")
    await runtime.tokens.revoke(client, token_value, form.get("token_type_hint"))
    return JSONResponse({}, headers=_NO_STORE)


@router.post(
    INTROSPECTION_PATH,
    summary="Token introspection (RFC 7662): client-authenticated",
)
async def introspect(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """Whether a token is active, and what it grants, for a client allowed to know."""
    form, _ = await _form(request)
    client = await _client(runtime, request, form, runtime.tokens.endpoints.introspection)
    token_value = form.get("token")
    if not token_value:
        raise InvalidRequestError("The token parameter is required (RFC 7662 §2.1).")
    answer = await runtime.tokens.introspect(client, token_value, form.get("token_type_hint"))
    return JSONResponse(answer, headers=_NO_STORE)


@router.get(
    USERINFO_PATH,
    summary="UserInfo (OIDC Core §5.3): Bearer or DPoP access token",
    operation_id="userinfo_get",
)
@router.post(
    USERINFO_PATH,
    summary="UserInfo (OIDC Core §5.3) by POST: Bearer or DPoP access token",
    operation_id="userinfo_post",
)
async def userinfo(
    runtime: RuntimeDep, request: Request, authorization: AuthorizationHeader = None
) -> JSONResponse:
    """Claims about the person the access token was issued for."""
    scheme, _, token_value = (authorization or "").partition(" ")
    scheme = scheme.lower()
    try:
        if scheme not in ("bearer", "dpop") or not token_value.strip():
            return oauth_error_response(
                InvalidTokenError("Send an access token in the Authorization header."),
                challenge=_challenge(None),
            )
        proof = single_proof(request.headers.getlist("dpop"))
        claims = await runtime.tokens.userinfo(
            token_value.strip(),
            scheme=scheme,
            proof=proof,
            method=request.method,
            certificate=forwarded(request.scope),
        )
    except OAuthError as exc:
        dpop = scheme == "dpop" or isinstance(exc, ResourceDpopProofError)
        return oauth_error_response(exc, challenge=_challenge(exc, dpop=dpop))
    return JSONResponse(claims, headers=_NO_STORE)


def _challenge(exc: OAuthError | None, *, dpop: bool = False) -> str:
    """RFC 6750 §3 and RFC 9449 §7.1 challenges; with no token at all, both schemes and no
    error code (RFC 6750 §3.1)."""
    algs = f'algs="{" ".join(DPOP_ALGORITHMS)}"'
    if exc is None:
        return f'Bearer realm="govconnect", DPoP realm="govconnect", {algs}'
    described = exc.detail.replace("\\", "\\\\").replace('"', "'")
    params = f'realm="govconnect", error="{exc.error}", error_description="{described}"'
    return f"DPoP {params}, {algs}" if dpop else f"Bearer {params}"
