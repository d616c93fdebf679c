"""HTTP: the application, the GraphQL view, the OAuth2 token endpoint, health and metrics,
the request log and traces."""

from gateway.http.app import create_app
from gateway.http.request_log import configure_logging

__all__ = ["configure_logging", "create_app"]
