"""Test factories: small organizations of their own, for tests that change things."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.data.db import Database
from gateway.domain.invitations import InvitationKind, InvitationRequest
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    Provider,
    ProviderAssignment,
    TaxId,
    User,
    utcnow,
)

_numbers = itertools.count(1)


@dataclass
class Org:
    id: int
    kind: str
    members: dict[str, int] = field(default_factory=dict)  # username -> membership id
    users: dict[str, int] = field(default_factory=dict)  # username -> user id
    providers: list[int] = field(default_factory=list)
    provider_id: str = ""  # payer-assigned

    def user(self, role: str, n: int = 1) -> str:
        """The n-th username created for ``role`` (e.g. ``org.user("ACCOUNT_ADMIN", 2)``)."""
        return next(u for u in self.members if u.endswith(f"-{role.lower()}-{n}"))


async def make_org(
    db: Database,
    *,
    kind: str = "GROUP_PRACTICE",
    members: dict[str, int] | None = None,
    employment: str = "EMPLOYEE",
    providers: int = 2,
    tins: tuple[str, ...] = (),
    status: str = "ACTIVE",
) -> Org:
    """An organization with ``members`` (role -> how many), each holding that one role, and a
    correspondence address."""
    n = next(_numbers)
    async with db.transaction() as session:
        org_id = (
            await session.execute(
                insert(Organization).returning(Organization.id),
                [
                    {
                        "name": f"Factory Org {n}",
                        "kind": kind,
                        "provider_id": f"F-{n:05}",
                        "status": status,
                        "address_line1": f"{n} Factory Road",
                        "address_city": "Phoenix",
                        "address_state": "AZ",
                        "address_zip": "85001",
                    }
                ],
            )
        ).scalar_one()
        org = Org(org_id, kind, provider_id=f"F-{n:05}")
        if tins:
            await session.execute(
                insert(TaxId), [{"organization_id": org_id, "tin": tin} for tin in tins]
            )
        rows = [
            {"organization_id": org_id, "npi": f"{n:05}{i:05}", "name": f"Dr. F{n}-{i}"}
            for i in range(providers)
        ]
        if rows:  # providers=0: e.g. a billing agency
            result = await session.execute(insert(Provider).returning(Provider.id), rows)
            org.providers = list(result.scalars())
        for role, count in ({"ACCOUNT_ADMIN": 1} if members is None else members).items():
            for i in range(1, count + 1):
                await _member(session, org, f"f{n}-{role.lower()}-{i}", role, employment)
    return org


async def make_grant(
    db: Database,
    client: Org,
    agency: Org,
    status: str,
    *,
    staff: Sequence[str] = (),
    providers: Sequence[int] = (),
) -> str:
    """A grant from ``client`` to ``agency`` in ``status``, written directly to start a test
    from that state; ``staff`` are usernames of the agency."""
    async with db.transaction() as session:
        grant_id = (
            await session.execute(
                insert(AgencyGrant).returning(AgencyGrant.id),
                [
                    {
                        "organization_id": client.id,
                        "agency_id": agency.id,
                        "status": status,
                        "decided_at": None if status == "REQUESTED" else utcnow(),
                    }
                ],
            )
        ).scalar_one()
        for user in staff:
            await session.execute(
                insert(AgencyGrantStaff), [{"grant_id": grant_id, "user_id": agency.users[user]}]
            )
        for provider_id in providers:
            await session.execute(
                insert(AgencyGrantProvider), [{"grant_id": grant_id, "provider_id": provider_id}]
            )
    return str(grant_id)


async def add_membership(db: Database, user_id: int, org: Org, role: str) -> int:
    """Make an existing user an active member of ``org`` too, holding ``role`` (and nothing
    else: no eTools, no providers): the new membership's id."""
    async with db.transaction() as session:
        return await _membership(session, user_id, org, role, "EMPLOYEE")


async def make_user(db: Database) -> tuple[str, int]:
    """A registered, active user with no memberships: (username, user id)."""
    username = f"u{next(_numbers)}-registered"
    async with db.transaction() as session:
        return username, await _user(session, username)


async def _user(session: AsyncSession, username: str) -> int:
    user_id: int = (
        await session.execute(
            insert(User).returning(User.id),
            [
                {
                    "username": username,
                    "email": f"{username}@example.org",
                    "email_normalized": f"{username}@example.org",
                    "name": username.title(),
                    "status": "ACTIVE",
                }
            ],
        )
    ).scalar_one()
    return user_id


async def _membership(
    session: AsyncSession, user_id: int, org: Org, role: str, employment: str
) -> int:
    """An active membership of ``user_id`` in ``org`` holding ``role``: its id."""
    membership_id: int = (
        await session.execute(
            insert(Membership).returning(Membership.id),
            [
                {
                    "user_id": user_id,
                    "organization_id": org.id,
                    "status": "ACTIVE",
                    "employment": employment,
                }
            ],
        )
    ).scalar_one()
    await session.execute(insert(MembershipRole), [{"membership_id": membership_id, "role": role}])
    return membership_id


async def _member(
    session: AsyncSession, org: Org, username: str, role: str, employment: str
) -> None:
    user_id = await _user(session, username)
    membership_id = await _membership(session, user_id, org, role, employment)
    await session.execute(
        insert(MembershipEtool), [{"membership_id": membership_id, "etool": "ONLINE_SERVICES"}]
    )
    if org.providers:
        await session.execute(
            insert(ProviderAssignment),
            [{"membership_id": membership_id, "provider_id": org.providers[0]}],
        )
    org.members[username] = membership_id
    org.users[username] = user_id


def request_for(email: str) -> InvitationRequest:
    """An invitation request as the domain receives it, the address typed twice."""
    return InvitationRequest("Jane Doe", email, email, InvitationKind.OFFICE_STAFF)
