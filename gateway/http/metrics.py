"""Prometheus metrics of the gateway (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("gateway_graphql_requests_total", "GraphQL requests answered", ["outcome"])
SQL_STATEMENTS = Histogram(
    "gateway_sql_statements_per_request",
    "SQL statements one GraphQL request ran (the access-log append included)",
    buckets=(1, 2, 4, 6, 8, 10, 12, 16, 20, 30, 50, 100),
)
ACCESS_LOG_ENTRIES = Histogram(
    "gateway_access_log_entries_per_request",
    "Access-log entries one GraphQL request appended (one per field and outcome)",
    buckets=(0, 5, 10, 20, 30, 50, 100, 250, 500),
)
