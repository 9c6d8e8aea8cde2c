"""The back channel of the OpenID Connect provider: client authentication (RFC 6749 §2.3,
RFC 7523), DPoP (RFC 9449), the token endpoint (RFC 6749 §3.2), ID tokens (OIDC Core §2),
JWT access tokens (RFC 9068), refresh-token rotation (RFC 9700 §4.14), revocation
(RFC 7009), introspection (RFC 7662) and userinfo (OIDC Core §5.3)."""
