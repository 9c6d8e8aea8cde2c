"""Logout: RP-initiated logout at ``/logout`` and back-channel logout to relying parties.

OpenID Connect RP-Initiated Logout 1.0 lets a relying party send the person to the gateway to
end their GovConnect session; OpenID Connect Back-Channel Logout 1.0 tells every relying party
a sign-in was handed to, server to server, when that sign-in ends, however it ended.
"""
