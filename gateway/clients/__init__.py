"""The registry of OAuth 2.0 / OpenID Connect clients (relying parties): council websites
and department systems, their redirect URIs, keys, grants and minimum levels."""
