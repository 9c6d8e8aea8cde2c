"""The website's OpenID Connect client: authlib's Starlette integration, set up for
GovConnect.

- endpoints come from discovery (OIDC Discovery 1.0 §4), whose ``issuer`` must be the URL it
  was fetched from (§4.3);
- the authorization request carries ``state``, ``nonce`` and a PKCE S256 challenge (RFC 7636),
  all kept in the server-side session by authlib; the response's ``iss`` must be GovConnect
  (RFC 9207, against mix-up);
- the token request authenticates with ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9): a
  short-lived assertion signed with the site's own key;
- the ID token is validated by authlib (signature against the JWKS, ``iss``, ``aud``,
  ``exp``, ``iat``, ``nonce``, ``at_hash``, OIDC Core §3.1.3.7);
- a refresh rotates the refresh token (RFC 9700 §4.14.2) and a new ID token must name the same
  person (OIDC Core §12.2);
- sign-out revokes the refresh token (RFC 7009), then is RP-initiated logout with
  ``id_token_hint``, ``post_logout_redirect_uri`` and ``state`` (RP-Initiated Logout 1.0 §2).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from starlette.requests import Request
from starlette.responses import Response

from examples.council_website.config import Config
from examples.council_website.keys import ALGORITHM
from examples.council_website.sessions import SignIn

ASSERTION_LIFETIME_SECONDS = 60


class SignInError(Exception):
    """GovConnect answered the sign-in with an error, or a check failed."""


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt``, with assertions valid for a minute instead of its
    default hour: GovConnect accepts at most five minutes (RFC 7523 §3 leaves it to the
    server)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        token: str = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=ASSERTION_LIFETIME_SECONDS,
        )
        return token


class GovConnect:
    def __init__(self, config: Config, key: ECKey, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        self._key = key
        self._auth = ShortLivedPrivateKeyJWT(alg=ALGORITHM)
        oauth = OAuth()
        oauth.register(
            "govconnect",
            client_id=client_id,
            client_secret=key,
            server_metadata_url=f"{config.govconnect_url}/.well-known/openid-configuration",
            client_kwargs={
                "scope": config.scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "private_key_jwt",
            },
            client_auth_methods=[self._auth],
        )
        self._client: Any = oauth.create_client("govconnect")

    @property
    def issuer(self) -> str:
        return self.config.govconnect_url

    async def metadata(self) -> dict[str, Any]:
        """The provider's metadata, fetched once; its issuer must be the one configured."""
        metadata: dict[str, Any] = await self._client.load_server_metadata()
        if metadata.get("issuer") != self.issuer:
            raise SignInError(
                f"discovery names issuer {metadata.get('issuer')!r}, not {self.issuer!r}"
            )
        return metadata

    def _claims_options(self) -> dict[str, Any]:
        # NOTE: given explicitly: authlib checks aud only through azp unless told to.
        return {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
        }

    async def begin(self, request: Request) -> Response:
        """Redirect to GovConnect's authorization endpoint (OIDC Core §3.1.2.1)."""
        await self.metadata()
        extra = {"acr_values": self.config.acr_values} if self.config.acr_values else {}
        response: Response = await self._client.authorize_redirect(
            request, self.config.redirect_uri, **extra
        )
        return response

    async def finish(self, request: Request) -> SignIn:
        """Check the response's ``iss`` (RFC 9207 §2.4: discovery says GovConnect sends it),
        redeem the code, validate the ID token; then read userinfo (OIDC Core §5.3)."""
        if request.query_params.get("iss") != self.issuer:
            raise SignInError("the authorization response did not come from GovConnect (iss)")
        try:
            token = await self._client.authorize_access_token(
                request, claims_options=self._claims_options()
            )
            userinfo = await self._client.userinfo(token=token)
        except OAuthError as exc:
            raise SignInError(f"{exc.error}: {exc.description}") from None
        except JoseError as exc:
            raise SignInError(f"the ID token failed a check: {exc}") from None
        claims = dict(token.pop("userinfo"))
        return SignIn(claims, token["id_token"], dict(token), dict(userinfo))

    async def refresh(self, sign_in: SignIn) -> SignIn:
        """Use the refresh token (RFC 6749 §6); GovConnect rotates it, so keep the new one."""
        metadata = await self.metadata()
        async with self._token_client() as client:
            try:
                token = dict(
                    await client.refresh_token(
                        metadata["token_endpoint"], refresh_token=sign_in.token["refresh_token"]
                    )
                )
            except OAuthError as exc:
                raise SignInError(f"{exc.error}: {exc.description}") from None
        claims = sign_in.claims
        if "id_token" in token:
            try:
                checked = await self._client.parse_id_token(
                    token, nonce=None, claims_options=self._claims_options()
                )
            except JoseError as exc:
                raise SignInError(f"the refreshed ID token failed a check: {exc}") from None
            if checked["sub"] != claims["sub"]:
                raise SignInError("the refreshed ID token names another person (OIDC Core §12.2)")
            claims = dict(checked)
        id_token = token.get("id_token", sign_in.id_token)
        return SignIn(claims, id_token, token, sign_in.userinfo)

    async def revoke(self, sign_in: SignIn) -> None:
        """Revoke the refresh token (RFC 7009 §2.1), so no copy of it outlives the sign-out;
        GovConnect answers 200 even for a token it no longer knows."""
        metadata = await self.metadata()
        async with self._token_client() as client:
            response = await client.revoke_token(
                metadata["revocation_endpoint"],
                token=sign_in.token["refresh_token"],
                token_type_hint="refresh_token",  # noqa: S106 - a hint name
            )
        response.raise_for_status()

    def _token_client(self) -> Any:
        """authlib's httpx client for the back channel, authenticating with the site's key."""
        client = AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._key,
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name
            revocation_endpoint_auth_method="private_key_jwt",
        )
        client.register_client_auth_method(self._auth)
        return client

    async def sign_out(self, request: Request, sign_in: SignIn) -> Response:
        """Send the person to GovConnect's end_session_endpoint (RP-Initiated Logout 1.0 §2)."""
        await self.metadata()
        response: Response = await self._client.logout_redirect(
            request,
            post_logout_redirect_uri=self.config.post_logout_redirect_uri,
            id_token_hint=sign_in.id_token,
        )
        return response

    async def signed_out(self, request: Request) -> bool:
        """Whether this request is GovConnect sending the person back after a sign-out this
        site started: its ``state`` must be one the site sent (§3)."""
        try:
            await self._client.validate_logout_response(request)
        except OAuthError:
            return False
        return True

    async def jwks(self, refetch: bool) -> dict[str, Any]:
        """GovConnect's public keys (``jwks_uri``), fetched again when ``refetch``."""
        await self.metadata()
        document: dict[str, Any] = await self._client.fetch_jwk_set(force=refetch)
        return document
