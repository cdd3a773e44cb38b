"""Users and API keys: the gateway's own data."""
