"""Writing a checked seed document with bulk inserts: the one path both seeders share."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.catalog import GrantStatus, MembershipStatus
from gateway.data import Database
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Base,
    EftAccount,
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    PayerRole,
    Provider,
    ProviderAssignment,
    RegisteredTin,
    TaxId,
    User,
    utcnow,
)
from gateway.seeding.checks import check_document
from gateway.seeding.document import SeedDocument
from gateway.seeding.errors import Problem, SeedError, key_path
from gateway.seeding.passwords import hash_each
from gateway.seeding.rows import (
    eft_rows,
    grant_rows,
    membership_rows,
    organization_row,
    payer_role_rows,
    provider_rows,
    registered_tin_rows,
    tax_id_rows,
    user_row,
)
from gateway.settings import Settings

Rows = list[dict[str, Any]]
CHUNK = 500  # keeps IN (...) lists well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True, slots=True)
class SeedCounts:
    organizations: int
    providers: int
    users: int
    memberships: int
    agency_grants: int
    payer_roles: int

    def summary(self) -> str:
        parts = [
            _plural(self.organizations, "organization"),
            _plural(self.providers, "provider"),
            _plural(self.users, "user"),
            _plural(self.memberships, "membership"),
            _plural(self.agency_grants, "agency grant"),
            _plural(self.payer_roles, "payer role"),
        ]
        return "loaded " + ", ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass
class Keys:
    """Database ids of what was inserted, by the names the document uses."""

    organizations: dict[str, int] = field(default_factory=dict)
    providers: dict[tuple[str, str], int] = field(default_factory=dict)  # (org name, NPI)
    users: dict[str, int] = field(default_factory=dict)
    memberships: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, org name)


async def load_into(
    settings: Settings,
    document: SeedDocument,
    password_hashes: Mapping[str, str],
    *,
    only_if_empty: bool = False,
) -> SeedCounts | None:
    """Load ``document`` in one transaction; ``None`` if ``only_if_empty`` and orgs exist."""
    try:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                if only_if_empty and await _has_organizations(session):
                    return None
                return await load_document(session, document, password_hashes=password_hashes)
        finally:
            await db.dispose()
    except SQLAlchemyError as error:
        raise SeedError(_database_problem(error)) from error


def _database_problem(error: SQLAlchemyError) -> str:
    # The driver's message only: SQLAlchemy's own text lists the parameters (password hashes).
    detail = str(error.orig) if isinstance(error, DBAPIError) else str(error)
    missing = "no such table" in detail or "does not exist" in detail
    hint = " (has `gateway migrate` been run?)" if missing else ""
    return f"the database refused the seed{hint}: {detail.splitlines()[0] if detail else error}"


async def _has_organizations(session: AsyncSession) -> bool:
    return (await session.scalar(select(Organization.id).limit(1))) is not None


async def load_document(
    session: AsyncSession,
    document: SeedDocument,
    *,
    password_hashes: Mapping[str, str] | None = None,
) -> SeedCounts:
    """Check ``document`` against itself and the database, then insert it in ``session``.

    ``password_hashes`` (username -> argon2 hash) skips hashing here; without it every given
    password is hashed (in a worker thread: argon2 is deliberately slow).
    """
    check_document(document)
    await check_existing(session, document)
    if password_hashes is None:
        password_hashes = await asyncio.to_thread(hash_each, document)
    now, keys = utcnow(), Keys()
    await _insert_organizations(session, document, keys, now)
    await _insert_users(session, document, keys, password_hashes, now)
    await _insert_memberships(session, document, keys, now)
    await _insert_grants(session, document, keys, now)
    await _insert(session, PayerRole, payer_role_rows(document, keys.users))
    return SeedCounts(
        organizations=len(keys.organizations),
        providers=len(keys.providers),
        users=len(keys.users),
        memberships=len(keys.memberships),
        agency_grants=len(document.agency_grants),
        payer_roles=len(document.payer_roles),
    )


async def check_existing(session: AsyncSession, document: SeedDocument) -> None:
    """Refuse names, provider IDs, usernames and emails the database already holds."""
    orgs, users = document.organizations, document.users
    columns: list[tuple[Any, list[str], str, str]] = [
        (Organization.name, [o.name for o in orgs], "organizations", "name"),
        (Organization.provider_id, [o.provider_id for o in orgs], "organizations", "providerId"),
        (func.lower(User.username), [u.username.lower() for u in users], "users", "username"),
        (User.email_normalized, [u.email.lower() for u in users], "users", "email"),
    ]
    problems: list[Problem] = []
    for column, values, section, key in columns:
        taken = await _existing(session, column, values)
        problems.extend(
            Problem(key_path(section, position, key), f"'{value}' already exists in the database")
            for position, value in enumerate(values)
            if value in taken
        )
    if problems:
        raise SeedError.from_problems(problems)


async def _existing(session: AsyncSession, column: Any, values: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(values), CHUNK):
        chunk = list(values[start : start + CHUNK])
        taken.update(await session.scalars(select(column).where(column.in_(chunk))))
    return taken


async def _insert(
    session: AsyncSession,
    model: type[Base],
    rows: Rows,
    *returning: InstrumentedAttribute[Any],
) -> list[tuple[Any, ...]]:
    if not rows:
        return []
    if not returning:
        await session.execute(insert(model), rows)
        return []
    result = await session.execute(insert(model).returning(*returning), rows)
    return [tuple(row) for row in result]


async def _insert_organizations(
    session: AsyncSession, document: SeedDocument, keys: Keys, now: datetime
) -> None:
    orgs = document.organizations
    rows = [organization_row(org, now) for org in orgs]
    for org_id, name in await _insert(
        session, Organization, rows, Organization.id, Organization.name
    ):
        keys.organizations[name] = org_id
    await _insert(session, TaxId, tax_id_rows(orgs, keys.organizations))
    await _insert(session, RegisteredTin, registered_tin_rows(orgs, keys.organizations))
    await _insert(session, EftAccount, eft_rows(orgs, keys.organizations, now))
    names = {org_id: name for name, org_id in keys.organizations.items()}
    providers = provider_rows(orgs, keys.organizations)
    returned = await _insert(
        session, Provider, providers, Provider.id, Provider.organization_id, Provider.npi
    )
    for provider_id, org_id, npi in returned:
        keys.providers[(names[org_id], npi)] = provider_id


async def _insert_users(
    session: AsyncSession,
    document: SeedDocument,
    keys: Keys,
    password_hashes: Mapping[str, str],
    now: datetime,
) -> None:
    rows = [user_row(user, password_hashes.get(user.username), now) for user in document.users]
    for user_id, username in await _insert(session, User, rows, User.id, User.username):
        keys.users[username] = user_id


async def _insert_memberships(
    session: AsyncSession, document: SeedDocument, keys: Keys, now: datetime
) -> None:
    rows = [
        {
            "user_id": keys.users[m.user],
            "organization_id": keys.organizations[m.organization],
            "status": m.status.value,
            "employment": m.employment.value,
            "created_at": now,
            "approved_at": now if m.status is MembershipStatus.ACTIVE else None,
        }
        for m in document.memberships
    ]
    usernames = {user_id: name for name, user_id in keys.users.items()}
    org_names = {org_id: name for name, org_id in keys.organizations.items()}
    returned = await _insert(
        session, Membership, rows, Membership.id, Membership.user_id, Membership.organization_id
    )
    for membership_id, user_id, org_id in returned:
        keys.memberships[(usernames[user_id], org_names[org_id])] = membership_id
    roles, etools, assignments = membership_rows(document, keys.memberships, keys.providers)
    await _insert(session, MembershipRole, roles)
    await _insert(session, MembershipEtool, etools)
    await _insert(session, ProviderAssignment, assignments)


async def _insert_grants(
    session: AsyncSession, document: SeedDocument, keys: Keys, now: datetime
) -> None:
    rows = [
        {
            "organization_id": keys.organizations[g.organization],
            "agency_id": keys.organizations[g.agency],
            "status": g.status.value,
            "created_at": now,
            "decided_at": None if g.status is GrantStatus.REQUESTED else now,
        }
        for g in document.agency_grants
    ]
    returned = await _insert(
        session,
        AgencyGrant,
        rows,
        AgencyGrant.id,
        AgencyGrant.organization_id,
        AgencyGrant.agency_id,
    )
    grant_ids = {(org_id, agency_id): grant_id for grant_id, org_id, agency_id in returned}
    providers, staff = grant_rows(
        document, keys.organizations, keys.providers, keys.users, grant_ids
    )
    await _insert(session, AgencyGrantProvider, providers)
    await _insert(session, AgencyGrantStaff, staff)
