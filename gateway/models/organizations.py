"""Organizations and what they own: tax IDs, the EFT account, providers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, code, utcnow


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(code())
    provider_id: Mapped[str] = mapped_column(String(32), unique=True)  # payer-assigned
    npi: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(code())
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    address_city: Mapped[str | None] = mapped_column(String(100))
    address_state: Mapped[str | None] = mapped_column(String(2))
    address_zip: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaxId(Base):
    __tablename__ = "tax_ids"
    __table_args__ = (UniqueConstraint("organization_id", "tin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    tin: Mapped[str] = mapped_column(String(9))


class EftAccount(Base):
    __tablename__ = "eft_accounts"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    bank_name: Mapped[str] = mapped_column(String(200))
    routing_number: Mapped[str] = mapped_column(String(9))
    account_number: Mapped[str] = mapped_column(String(17))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("organization_id", "npi"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    npi: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(100))
    dea_number: Mapped[str | None] = mapped_column(String(9))  # clinical: prescribing authority
