"""The member list as CSV (R12): who has which roles, eTools and providers, and last login.

Read with a fixed handful of set-based statements (members, roles, eTools, providers), so an
export costs the same number of queries for five members or five thousand.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog import MembershipStatus
from gateway.errors import NotFound
from gateway.models import (
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    Provider,
    ProviderAssignment,
    User,
    utcnow,
)

CONTENT_TYPE = "text/csv; charset=utf-8"
HEADER = ("name", "username", "email", "roles", "eTools", "providers", "status", "last login")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)
class MemberExport:
    organization_id: int
    filename: str
    csv: str
    row_count: int
    content_type: str = CONTENT_TYPE


async def export_members(
    session: AsyncSession, *, org_id: int, statuses: Sequence[MembershipStatus]
) -> MemberExport:
    """One CSV line per membership of ``org_id`` in one of ``statuses``, ordered by name."""
    organization = await session.get(Organization, org_id)
    if organization is None:
        raise NotFound("Organization not found")
    ids = select(Membership.id).where(
        Membership.organization_id == org_id, Membership.status.in_(statuses)
    )
    members = (await session.execute(_members(ids))).all()
    roles = await _grouped(session, _roles(ids))
    etools = await _grouped(session, _etools(ids))
    providers = await _grouped(session, _providers(ids))
    lines = [_line(m, roles[m.id], etools[m.id], providers[m.id]) for m in members]
    return MemberExport(
        organization_id=org_id,
        filename=_filename(organization),
        csv=to_csv(lines),
        row_count=len(lines),
    )


def to_csv(lines: Iterable[Sequence[str]]) -> str:
    """RFC 4180 CSV with a header line; every cell guarded against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows([safe_cell(cell) for cell in line] for line in lines)
    return buffer.getvalue()


def safe_cell(value: str) -> str:
    """A leading apostrophe makes a spreadsheet show the cell as text instead of running it."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _line(
    member: Row[int, str, str, str, str, datetime | None],
    roles: list[str],
    etools: list[str],
    providers: list[str],
) -> tuple[str, ...]:
    """A CSV line in ``HEADER`` order."""
    return (
        member.name,
        member.username,
        member.email,
        LIST_SEPARATOR.join(roles),
        LIST_SEPARATOR.join(etools),
        LIST_SEPARATOR.join(providers),
        member.status,
        _timestamp(member.last_login_at),
    )


def _members(ids: Select[int]) -> Select[int, str, str, str, str, datetime | None]:
    return (
        select(
            Membership.id,
            Membership.status,
            User.name,
            User.username,
            User.email,
            User.last_login_at,
        )
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(ids))
        .order_by(User.name, Membership.id)
    )


def _roles(ids: Select[int]) -> Select[int, str]:
    return (
        select(MembershipRole.membership_id, MembershipRole.role)
        .where(MembershipRole.membership_id.in_(ids))
        .order_by(MembershipRole.role)
    )


def _etools(ids: Select[int]) -> Select[int, str]:
    return (
        select(MembershipEtool.membership_id, MembershipEtool.etool)
        .where(MembershipEtool.membership_id.in_(ids))
        .order_by(MembershipEtool.etool)
    )


def _providers(ids: Select[int]) -> Select[int, str]:
    """Assigned providers as "name (NPI)", so a reviewer can tell two Dr. Smiths apart."""
    label = Provider.name + " (" + Provider.npi + ")"
    return (
        select(ProviderAssignment.membership_id, label)
        .join(Provider, Provider.id == ProviderAssignment.provider_id)
        .where(ProviderAssignment.membership_id.in_(ids))
        .order_by(Provider.name, Provider.npi)
    )


async def _grouped(session: AsyncSession, statement: Select[int, str]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for membership_id, value in await session.execute(statement):
        groups[membership_id].append(value)
    return groups


def _timestamp(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def _filename(organization: Organization) -> str:
    provider_id = re.sub(r"[^A-Za-z0-9-]", "_", organization.provider_id)
    return f"members-{provider_id}-{utcnow().date().isoformat()}.csv"
