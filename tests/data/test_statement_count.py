"""Per-request DataLoaders: the SQL statement count does not grow with the page (no N+1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert
from starlette.applications import Starlette

from gateway.data.db import Database
from gateway.models import (
    AgencyGrant,
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    Provider,
    ProviderAssignment,
    TaxId,
    User,
)
from gateway.settings import Settings
from tests.support import Api, World
from tests.support.database import counting
from tests.support.factories import make_org

MEMBERS = 60

DASHBOARD = """
query Dashboard($id: ID!, $first: Int!) {
  organization(id: $id) {
    id name kind status taxIds { tin } hasSingleAdmin
    members(first: $first) {
      totalCount
      edges { cursor node {
        id status employment roles { code name } etools { code } providers { id npi name }
        user { id username name email memberships { id } }
      } }
      pageInfo { hasNextPage endCursor }
    }
    providers(first: 50) { edges { node { id npi name } } }
    agencyGrants { id status agency { id name } providers { npi } staff { id name } }
  }
}
"""


@pytest.fixture(scope="module")
async def big_org(settings: Settings, world: World) -> AsyncIterator[int]:
    """An organization with many members, each with roles, eTools and a provider, and a grant
    to a billing agency of its own (the fixture world's agencies stay as other tests expect)."""
    db = Database(settings.database_url)
    agency = await make_org(db, kind="BILLING_AGENCY", members={"AGENCY_ADMIN": 1}, providers=0)
    async with db.transaction() as session:
        org_id = (
            await session.execute(
                insert(Organization).returning(Organization.id),
                [
                    dict(
                        name="Statement Count Clinic",
                        kind="GROUP_PRACTICE",
                        provider_id="P-9900",
                        status="ACTIVE",
                    )
                ],
            )
        ).scalar_one()
        await session.execute(insert(TaxId), [dict(organization_id=org_id, tin="990000001")])
        provider_id = (
            await session.execute(
                insert(Provider).returning(Provider.id),
                [dict(organization_id=org_id, npi="9900000001", name="Dr. Count")],
            )
        ).scalar_one()
        await session.execute(
            insert(AgencyGrant),
            [
                dict(
                    organization_id=org_id,
                    agency_id=agency.id,
                    status="ACTIVE",
                )
            ],
        )
        user_ids = (
            (
                await session.execute(
                    insert(User).returning(User.id),
                    [
                        dict(
                            username=f"count{i:03}",
                            email=f"count{i:03}@example.org",
                            email_normalized=f"count{i:03}@example.org",
                            name=f"Count {i}",
                            status="ACTIVE",
                        )
                        for i in range(MEMBERS)
                    ],
                )
            )
            .scalars()
            .all()
        )
        membership_ids = (
            (
                await session.execute(
                    insert(Membership).returning(Membership.id),
                    [
                        dict(
                            user_id=u,
                            organization_id=org_id,
                            status="ACTIVE",
                            employment="EMPLOYEE",
                        )
                        for u in user_ids
                    ],
                )
            )
            .scalars()
            .all()
        )
        await session.execute(
            insert(MembershipRole),
            [
                dict(membership_id=m, role="ACCOUNT_ADMIN" if i == 0 else "STAFF")
                for i, m in enumerate(membership_ids)
            ],
        )
        await session.execute(
            insert(MembershipEtool),
            [dict(membership_id=m, etool="ONLINE_SERVICES") for m in membership_ids],
        )
        await session.execute(
            insert(ProviderAssignment),
            [dict(membership_id=m, provider_id=provider_id) for m in membership_ids],
        )
    await db.dispose()
    yield org_id


async def dashboard_statements(api: Api, app: Starlette, org_id: int, first: int) -> int:
    with counting(app) as statements:
        body = await api.query(
            DASHBOARD, as_user="count000", variables={"id": str(org_id), "first": first}
        )
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["organization"]["members"]["edges"]) == first
    return len(statements)


async def test_statement_count_does_not_grow_with_members(
    api: Api, app: Starlette, big_org: int
) -> None:
    five = await dashboard_statements(api, app, big_org, 5)
    fifty = await dashboard_statements(api, app, big_org, 50)
    assert five == fifty


async def test_list_of_organizations_with_members_is_batched(
    api: Api, app: Starlette, big_org: int
) -> None:
    query = """query($first: Int!) { organizations(first: $first) { edges { node {
        id name members(first: 5) { edges { node { id roles { code } user { name } } } } } } } }"""
    counts = []
    for first in (1, 4):
        with counting(app) as statements:
            body = await api.query(query, as_user="auditor", variables={"first": first})
        assert len(body["data"]["organizations"]["edges"]) == first
        counts.append(len(statements))
    assert counts[0] == counts[1]


async def test_the_help_desk_search_is_batched(api: Api, app: Starlette, big_org: int) -> None:
    query = """query($first: Int!) { users(search: "count0", first: $first) { totalCount
        edges { node { id username email memberships { status roles { code }
        organization { name } } } } } }"""
    counts = []
    for first in (5, 50):
        with counting(app) as statements:
            body = await api.query(query, as_user="helpdesk", variables={"first": first})
        assert "errors" not in body, body["errors"]
        assert len(body["data"]["users"]["edges"]) == first
        assert body["data"]["users"]["totalCount"] == MEMBERS
        counts.append(len(statements))
    assert counts[0] == counts[1]
