"""Who may call: API tokens (stored hashed), roles, and the audit log."""
