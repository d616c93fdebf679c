"""The access log (A1-A6): what each request did, written durably before it is answered.

- ``AuditTrail.record`` is how anything enters the log: the enforcement point records every
  field it decides, and sign-ins, the token endpoint and account changes record the events
  declared once in ``events`` (``trail.record_event(events.SIGNED_IN, user_id)``). A request
  writes one entry per disclosure (type, field, action, decision, rule) holding the objects it
  covered, each with the organization it is filed under.
- ``AccessLogWriter.flush`` (before a response) and ``AccessLogWriter.transaction`` (a change
  and its entries together) are the only ways entries reach the database (A2). Flushes are
  group-committed: requests waiting at the same time share a transaction (``BatchLimits``
  bounds it, ``BatchMetrics`` reports it).
- ``verify_chain`` walks the hash chain (A3); ``search``, ``find_decision`` and
  ``export_entries`` read it back (A4); ``shown`` is the part of an entry a search confined to
  some organizations shows. Nothing changes or deletes an entry (A6).
"""

from gateway.audit import events
from gateway.audit.chain import AccessLogWriter
from gateway.audit.entries import Entry, FiledObject, storable
from gateway.audit.events import AccountEvent
from gateway.audit.group_commit import BatchLimits, BatchMetrics
from gateway.audit.objects import Shown, has_object, shown
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
    "FiledObject",
    "LogFilter",
    "LogRow",
    "Shown",
    "as_utc",
    "events",
    "export_entries",
    "find_decision",
    "has_object",
    "search",
    "shown",
    "storable",
    "verify_chain",
]
