"""HTTP: the application, the GraphQL view, the OAuth2 token endpoint, health and metrics."""
