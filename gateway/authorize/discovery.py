"""The provider's metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2, one document.

It lists exactly what the gateway does, so a client library configured from it never tries
something that will be refused: the code flow only, PKCE with S256 only, pairwise subjects
only, ``request`` objects but no ``request_uri`` other than PAR's, and client secrets only
where the deployment allows them.
"""

from __future__ import annotations

from typing import Any

from gateway.authorize.levels import ACR_VALUES_SUPPORTED
from gateway.authorize.models import AUTHORIZE_PATH, BUSINESS_SCOPE, PAR_PATH
from gateway.authorize.parameters import PROMPTS
from gateway.authorize.request_objects import REQUEST_OBJECT_ALGORITHMS
from gateway.clients.models import AuthMethod, GrantType, IdTokenAlg
from gateway.core.settings import Settings
from gateway.oidc.models import SCOPE_CLAIMS
from gateway.tokens.dpop import DPOP_ALGORITHMS
from gateway.tokens.models import INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH, USERINFO_PATH

# Endpoint paths under the issuer. Each is served by its own package; the discovery test
# calls every one of them.
ENDPOINTS = {
    "authorization_endpoint": AUTHORIZE_PATH,
    "token_endpoint": TOKEN_PATH,
    "userinfo_endpoint": USERINFO_PATH,
    "jwks_uri": "/.well-known/jwks.json",
    "pushed_authorization_request_endpoint": PAR_PATH,
    "introspection_endpoint": INTROSPECTION_PATH,
    "revocation_endpoint": REVOCATION_PATH,
    "end_session_endpoint": "/logout",
}
# Scopes of the gateway's own APIs, granted to clients through client_credentials.
SERVICE_SCOPES = ("submissions",)
# OIDC Core §2 (ID token), §5.1 (standard claims, by scope), Front/Back-Channel Logout §2 (sid).
# RFC 8485 §5.2 (vot, vtm); ``org`` names the business a member acts for.
_TOKEN_CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "vot", "vtm",
    "org",
)  # fmt: skip
# What the client authentication of gateway.tokens accepts for private_key_jwt assertions.
_CLIENT_ASSERTION_ALGORITHMS = REQUEST_OBJECT_ALGORITHMS


def metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.issuer
    methods = [
        m.value
        for m in AuthMethod
        if (settings.client_secrets_allowed or not m.uses_secret)
        and (settings.client_cert_header or m is not AuthMethod.TLS_CLIENT_AUTH)
    ]
    scope_claims = [claim for claims in SCOPE_CLAIMS.values() for claim in claims]
    document: dict[str, Any] = {
        "issuer": issuer,
        **{name: issuer + path for name, path in ENDPOINTS.items()},
        "scopes_supported": ["openid", *SCOPE_CLAIMS, BUSINESS_SCOPE, *SERVICE_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            GrantType.TOKEN_EXCHANGE.value,  # RFC 8693, for agents acting for clients
        ],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [alg.value for alg in IdTokenAlg],
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": list(_CLIENT_ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(
            _CLIENT_ASSERTION_ALGORITHMS
        ),
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(_CLIENT_ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(dict.fromkeys((*_TOKEN_CLAIMS, *scope_claims))),
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGORITHMS),
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "require_pushed_authorization_requests": False,
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "prompt_values_supported": list(PROMPTS),
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "display_values_supported": ["page"],
        "ui_locales_supported": ["en"],
    }
    if settings.client_cert_header:
        # RFC 8705 §3.3: access tokens of tls_client_auth clients are certificate-bound.
        document["tls_client_certificate_bound_access_tokens"] = True
    if settings.service_documentation_url:
        document["service_documentation"] = settings.service_documentation_url
    return document
