"""Passkeys (WebAuthn Level 3): registration, usernameless sign-in and step-up to ``Cl.Cm.Ch``."""
