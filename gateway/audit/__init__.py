"""The access log (A1-A6): what each request did, written durably before it is answered.

- ``AuditTrail.record`` is how anything enters the log: the enforcement point records every
  field it decides, and sign-ins, the token endpoint and account changes record the events
  declared once in ``events`` (``trail.record_event(events.SIGNED_IN, user_id)``).
- ``AccessLogWriter.flush`` (before a response) and ``AccessLogWriter.transaction`` (a change
  and its entries together) are the only ways entries reach the database (A2). Flushes are
  group-committed: requests waiting at the same time share a transaction (``BatchLimits``
  bounds it, ``BatchMetrics`` reports it).
- ``verify_chain`` walks the hash chain (A3); ``search``, ``find_decision`` and
  ``export_entries`` read it back (A4). Nothing changes or deletes an entry (A6).
"""

from gateway.audit import events
from gateway.audit.chain import AccessLogWriter
from gateway.audit.entries import Entry, storable
from gateway.audit.events import AccountEvent
from gateway.audit.group_commit import BatchLimits, BatchMetrics
from gateway.audit.search import LogFilter, LogRow, as_utc, find_decision, search
from gateway.audit.trail import AuditTrail
from gateway.audit.verify import ChainReport, export_entries, verify_chain

__all__ = [
    "AccessLogWriter",
    "AccountEvent",
    "AuditTrail",
    "BatchLimits",
    "BatchMetrics",
    "ChainReport",
    "Entry",
    "LogFilter",
    "LogRow",
    "as_utc",
    "events",
    "export_entries",
    "find_decision",
    "search",
    "storable",
    "verify_chain",
]
