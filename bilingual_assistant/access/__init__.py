"""Who may use the service: principals, roles and scopes, API keys, sign-in."""
