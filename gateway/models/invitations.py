"""Invitations to register, sent by an organization's admins and office managers (R2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, code, utcnow


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        # R2: at most one pending invitation per address and organization (resend renews it).
        Index(
            "uq_invitations_pending_email",
            "organization_id",
            "email_normalized",
            unique=True,
            sqlite_where=text("status = 'PENDING'"),
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_invitations_organization_id_id", "organization_id", "id"),  # the list, paged
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(code())
    # Only a hash: the token itself exists only in the invitation email's registration link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(code())  # EXPIRED is derived from expires_at
    resent_count: Mapped[int] = mapped_column(Integer, default=0)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
