"""The token endpoint: client authentication, DPoP, grants, revocation, introspection, userinfo."""
