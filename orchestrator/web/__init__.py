"""The aiohttp application: JSON API, OpenAPI, health and metrics."""
