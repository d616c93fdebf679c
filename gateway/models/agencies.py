"""Agency grants: an organization lets a billing agency act for it (R11)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, code, utcnow


class AgencyGrant(Base):
    __tablename__ = "agency_grants"
    __table_args__ = (UniqueConstraint("organization_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(code())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgencyGrantProvider(Base):
    """A grant limited to some providers; a grant without rows covers all of them."""

    __tablename__ = "agency_grant_providers"

    grant_id: Mapped[int] = mapped_column(ForeignKey("agency_grants.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)


class AgencyGrantStaff(Base):
    """An agency user the agency admin assigned to a client."""

    __tablename__ = "agency_grant_staff"

    grant_id: Mapped[int] = mapped_column(ForeignKey("agency_grants.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
