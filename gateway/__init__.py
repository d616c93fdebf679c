"""Provider Portal Gateway: a GraphQL gateway over provider-portal account data."""
