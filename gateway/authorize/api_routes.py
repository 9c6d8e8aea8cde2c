"""The machine-facing routes of the front-channel package: provider metadata and PAR."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.authorize.discovery import metadata
from gateway.authorize.errors import RequestRefused
from gateway.authorize.levels import TRUSTMARK_PATH, trustmark
from gateway.authorize.models import PAR_PATH
from gateway.authorize.pages import multi
from gateway.core.deps import RuntimeDep
from gateway.oidc.errors import InvalidRequestError, OAuthError
from gateway.oidc.responses import oauth_error_response
from gateway.web.pages import MAX_FORM_FIELDS

router = APIRouter(tags=["openid-connect"])

# Metadata changes only with a deployment; an hour of caching spares every relying party a
# fetch per sign-in. Client libraries in browsers (SPAs, developer tools) read it cross-origin.
_PUBLIC = {
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
_FORM = "application/x-www-form-urlencoded"


@router.get(
    "/.well-known/openid-configuration",
    summary="OpenID Provider metadata (OIDC Discovery §4), no authentication",
)
async def openid_configuration(runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(metadata(runtime.settings), headers=_PUBLIC)


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414 §3), no authentication",
)
async def oauth_authorization_server(runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(metadata(runtime.settings), headers=_PUBLIC)


@router.get(TRUSTMARK_PATH, summary="Trustmark (RFC 8485 §5.3), no authentication")
async def trustmark_document(runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(trustmark(runtime.settings.issuer), headers=_PUBLIC)


@router.post(
    PAR_PATH,
    status_code=201,
    summary="Pushed authorization request (RFC 9126); client authentication as at /token",
)
async def pushed_authorization_request(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """RFC 9126 §2: authenticated by the client's registered method (``ClientAuthenticator``);
    answers ``request_uri`` and ``expires_in``, or an OAuth error as JSON (§2.3)."""
    try:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
            raise InvalidRequestError(f"Send the request as {_FORM} (RFC 9126 §2.1).")
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        pushed = await runtime.authorization.pushed.push(
            multi(form.multi_items()), request.headers.get("authorization")
        )
    except RequestRefused as exc:
        return oauth_error_response(exc.oauth)
    except OAuthError as exc:
        return oauth_error_response(exc)
    return JSONResponse(pushed.to_json(), status_code=201, headers={"Cache-Control": "no-store"})
