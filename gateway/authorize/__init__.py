"""The front channel of the OpenID Connect provider: discovery (OIDC Discovery 1.0, RFC 8414),
the authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9101, RFC 9207),
pushed authorization requests (RFC 9126), consent, and the "services you have signed in to"
account page.
"""
