"""Access reviews (R12, R15): an admin confirms or removes every member of an organization."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, code


class AccessReview(Base):
    __tablename__ = "access_reviews"
    __table_args__ = (
        # R12: one open review per organization (the domain checks it under the org's lock).
        Index(
            "uq_access_reviews_open",
            "organization_id",
            unique=True,
            sqlite_where=text("status = 'OPEN'"),
            postgresql_where=text("status = 'OPEN'"),
        ),
        Index("ix_access_reviews_organization_status", "organization_id", "status"),
        Index("ix_access_reviews_status_deadline", "status", "deadline"),  # R15: the overdue
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(code())  # OPEN, COMPLETED, EXPIRED
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # R15: deadline enforced


class AccessReviewItem(Base):
    """One member under review: what they held when it started, and the decision."""

    __tablename__ = "access_review_items"
    __table_args__ = (UniqueConstraint("review_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("access_reviews.id"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    # JSON: roles, eTools, providers and last login at the review's start (gateway.domain.reviews)
    snapshot: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(code())  # KEEP, REMOVE; null until decided
    # Null with a decision: the R15 deadline decided it, not a person.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
