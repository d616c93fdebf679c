"""The access log (A1-A6): one row per request, one hash-chained row per resolver execution.

What is the same for every field of a request (when, who, from where, which operation) is
stored once, in ``access_log_requests``; each entry keeps what varies. Entry numbers (``seq``)
are assigned by the writer under the chain lock, so their order is the chain's order, and a
request's entries are the ``entry_count`` numbers starting at its ``first_seq``. Each hash is
an HMAC-SHA256 digest (32 bytes) over the entry, its request's columns and the previous hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
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


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_object", "object_type", "object_id", "field", "seq"),
        Index("ix_access_log_org", "organization_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    request_seq: Mapped[int] = mapped_column(ForeignKey("access_log_requests.first_seq"))
    organization_id: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str | None] = mapped_column(String(200))
    # Identical executions within one request (the same field of the same object, decided the
    # same way, e.g. a role's name on every member of a page) share one entry and count here.
    executions: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AccessLogHead(Base):
    """One row: the last sequence number and hash, locked while a batch is appended."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
