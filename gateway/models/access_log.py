"""The access log (A1-A6): one row per request, one hash-chained row per disclosure.

What is the same for every field of a request (when, who, from where, which operation) is
stored once, in ``access_log_requests``. Each entry is one (type, field, action, decision,
rule) of the request with the objects its executions covered, so a request's entries do not
grow with the objects it returns. Entry numbers (``seq``) are assigned by the writer under the
chain lock, so their order is the chain's order, and a request's entries are the
``entry_count`` numbers starting at its ``first_seq``. Each hash is an HMAC-SHA256 digest (32
bytes) over the entry, its request's columns and the previous hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime


class AccessLogRequest(Base):
    __tablename__ = "access_log_requests"
    __table_args__ = (
        UniqueConstraint("request_id", "first_index"),
        Index("ix_access_log_requests_user_at", "user_id", "at"),
        Index("ix_access_log_requests_at", "at"),
    )

    first_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_count: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    # A mutation's request is written in batches; entry indexes run on across them.
    first_index: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(200))
    client_address: Mapped[str | None] = mapped_column(String(64))


# PostgreSQL keeps the objects as JSONB (binary, indexable); SQLite as JSON text.
OBJECTS_TYPE = JSON().with_variant(JSONB(), "postgresql")


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_kind", "object_type", "field", "seq"),
        # A4 on PostgreSQL: "entries with object U", "entries with an object filed under
        # organization X" and "with U filed under X" are all containment (``objects @>
        # '[["U"]]'``, ``'[[X]]'``, ``'[["U", X]]'``), which one GIN index answers;
        # jsonb_path_ops keeps it to a hash per id and organization. SQLite reads the objects
        # with json_each instead (no such index there).
        Index(
            "ix_access_log_objects",
            "objects",
            postgresql_using="gin",
            postgresql_ops={"objects": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    request_seq: Mapped[int] = mapped_column(ForeignKey("access_log_requests.first_seq"))
    # The objects the entry's executions covered, in first-seen order, each as a pair
    # ``[id, organization id]``: the id (a string; null when the execution named no object,
    # e.g. ``me``) and the organization it is filed under (null: none), decided per object
    # scope (an admin's reads of their members are filed under their office). One column of
    # pairs rather than two parallel lists, so that "U filed under X" (an admin's search for
    # an object) is one containment test on one object, not a match in each list that could
    # come from two different objects. A pair appears once; ``executions`` counts repeats.
    objects: Mapped[list[list[Any]]] = mapped_column(OBJECTS_TYPE)
    object_type: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str | None] = mapped_column(String(200))
    # All executions the entry stands for: every object's, repeats included (a role's name
    # read on every member of a page is one object executed many times).
    executions: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AccessLogHead(Base):
    """One row: the last sequence number and hash, locked while a batch is appended."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Entries up to this number were written one per object, before migration 0002, and are
    # verified as they were hashed then (0: none).
    per_object_until: Mapped[int] = mapped_column(BigInteger)
