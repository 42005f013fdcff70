"""`timeline serve`: the HTTP API, its problem details and its live feed."""

from timeline.interfaces.server.app import Settings, create_app

__all__ = ["Settings", "create_app"]
