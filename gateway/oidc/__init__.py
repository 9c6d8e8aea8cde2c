"""What the OpenID Connect packages share: OAuth errors, the authorization grant behind a code,
pairwise subjects and the store of codes.

The provider is three packages: ``gateway.authorize`` (the front channel: authorization
endpoint, PAR, consent, discovery), ``gateway.tokens`` (the back channel: token endpoint,
client authentication, DPoP, userinfo, introspection, revocation) and ``gateway.logout``
(RP-initiated and back-channel logout).
"""
