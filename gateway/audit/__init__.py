"""The access log: the request's buffer, account events, the chained append, search, verify."""
