"""People's accounts: registration with email confirmation, sign-in with a password and a
second factor (an authenticator app, recovery codes, or a code by email or text message),
password reset, email changes and deletion, with throttling that cannot lock a person out."""
