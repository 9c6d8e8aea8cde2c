"""Demo Borough Council: an example relying party that signs citizens in with GovConnect.

It uses authlib's Starlette client for the OpenID Connect code flow (PKCE S256, state, nonce,
``private_key_jwt`` client authentication, ID token validation), refreshes tokens, signs out by
RP-initiated logout and receives back-channel logout; a signed-in citizen can send a parking
permit application with a PDF to the council's back office through GovConnect, signed with the
site's key, and follow it to the answer. Run it beside ``make run`` with
``python -m examples.council_website``; README.md explains.
"""
