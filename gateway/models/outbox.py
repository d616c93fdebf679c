"""The outbox: every email and letter a workflow sends, written with the change that caused it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, code, utcnow


class OutboxMessage(Base):
    """One email or letter; delivered by ``gateway.outbox.deliver_pending``, never deleted."""

    __tablename__ = "outbox_messages"
    # The delivery worker's question: which pending messages are due, oldest first.
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(code())
    channel: Mapped[str] = mapped_column(code(16))
    recipient: Mapped[str] = mapped_column(String(1000))  # an email address or a postal address
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(code(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
