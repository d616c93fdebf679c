"""Prometheus metrics of the gateway (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from gateway.audit import BatchMetrics

REQUESTS = Counter("gateway_graphql_requests_total", "GraphQL requests answered", ["outcome"])
SQL_STATEMENTS = Histogram(
    "gateway_sql_statements_per_request",
    "SQL statements one GraphQL request ran (the access-log append included: a group "
    "commit's count as the oldest request's in it)",
    buckets=(1, 2, 4, 6, 8, 10, 12, 16, 20, 30, 50, 100),
)
ACCESS_LOG_ENTRIES = Histogram(
    "gateway_access_log_entries_per_request",
    "Access-log entries one GraphQL request appended (one per field and outcome)",
    buckets=(0, 5, 10, 20, 30, 50, 100, 250, 500),
)
READS = Counter(
    "gateway_graphql_reads_total",
    "GraphQL operations answered, by path: compiled (one statement per root field) or "
    "resolvers (what the read planner does not compile)",
    ["path"],
)
# The access log's group commit (gateway.audit.group_commit): a request's entries are appended
# in one transaction with those of every request waiting at the same time.
ACCESS_LOG_BATCHES = BatchMetrics(
    batch_requests=Histogram(
        "gateway_access_log_requests_per_batch",
        "Requests whose access-log entries one transaction appended (group commit)",
        buckets=(1, 2, 4, 8, 16, 32, 64, 100, 250, 500),
    ).observe,
    waiting=Gauge(
        "gateway_access_log_requests_waiting",
        "Requests waiting for their access-log batch to commit before they answer",
    ).inc,
)
