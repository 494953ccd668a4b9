"""The HTTP API: app factory, routes, API keys and limits."""
