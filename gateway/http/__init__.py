"""HTTP: the application, the GraphQL view, the OAuth2 token endpoint, health and metrics."""

from gateway.http.app import create_app

__all__ = ["create_app"]
