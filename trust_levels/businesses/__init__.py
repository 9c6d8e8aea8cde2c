"""Business accounts: members with roles, invitations, service enrolments (DESIGN.md §2)."""
