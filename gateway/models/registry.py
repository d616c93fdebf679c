"""The health plan's registry: which tax IDs the plan has on file for which organization (R10)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base


class RegisteredTin(Base):
    """A TIN registered to an organization; only these may be put on its account (R10)."""

    __tablename__ = "registered_tins"
    __table_args__ = (UniqueConstraint("organization_id", "tin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique (organization_id, tin) index also serves lookups by organization.
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    tin: Mapped[str] = mapped_column(String(9))
