"""Authentication: tokens, an external OpenID Connect provider, passwords, second factors."""
