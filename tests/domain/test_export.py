"""The member list as CSV (R12): exportMembers, for admins and office managers only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update
from starlette.applications import Starlette

from gateway.audit import has_object
from gateway.data.db import Database
from gateway.domain.export import safe_cell
from gateway.models import (
    AccessLogEntry,
    Membership,
    MembershipEtool,
    MembershipRole,
    Provider,
)
from tests.support import JSON, Api, World, role_table
from tests.support.accounts import set_user
from tests.support.database import counting
from tests.support.factories import Org, make_org

EXPORT = """query Export($org: ID!, $status: [MembershipStatus!]) {
  exportMembers(organizationId: $org, status: $status) { filename contentType csv rowCount } }"""
HEADER = ["name", "username", "email", "roles", "eTools", "providers", "status", "last login"]


async def export(
    api: Api, org_id: int | str, actor: str | None, status: list[str] | None = None
) -> JSON:
    variables: JSON = {"org": str(org_id), "status": status}
    return await api.query(EXPORT, as_user=actor, variables=variables)


def lines_of(body: JSON) -> list[list[str]]:
    assert "errors" not in body, body["errors"]
    return list(csv.reader(io.StringIO(body["data"]["exportMembers"]["csv"])))


def by_username(lines: list[list[str]]) -> dict[str, list[str]]:
    assert lines[0] == HEADER
    return {line[1]: line for line in lines[1:]}


# ---- who may export: admins and office managers of the organization --------------------------

CALLERS = role_table("admin", "office")


@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_export_sunrises_members(
    api: Api, world: World, caller: str | None, allowed: bool
) -> None:
    body = await export(api, world.orgs["Sunrise Family Practice"], caller)
    if allowed:
        result = body["data"]["exportMembers"]
        assert result["contentType"] == "text/csv; charset=utf-8"
        assert result["filename"].startswith("members-P-1001-")
        assert result["filename"].endswith(".csv")
        assert "admin" in by_username(lines_of(body))
        return
    assert body["data"] == {"exportMembers": None}
    (error,) = body["errors"]
    refused = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    assert error["extensions"]["code"] == refused


async def test_an_admin_elsewhere_is_only_staff_here(api: Api, world: World) -> None:
    """Sunrise's admin is staff at Desert Spine: no roster, so no export (V3)."""
    body = await export(api, world.orgs["Desert Spine Chiropractic"], "admin")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# ---- contents -----------------------------------------------------------------------------------


async def test_one_line_per_member_with_roles_etools_providers_and_last_login(
    api: Api, db: Database
) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    admin, staff = org.user("ACCOUNT_ADMIN"), org.user("STAFF")
    async with db.transaction() as session:
        await session.execute(
            insert(MembershipRole), [{"membership_id": org.members[admin], "role": "PROVIDER"}]
        )
        await session.execute(
            insert(MembershipEtool), [{"membership_id": org.members[admin], "etool": "CARELON"}]
        )
        provider = await session.get(Provider, org.providers[0])
    assert provider is not None
    await set_user(db, org.users[staff], last_login_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC))

    body = await export(api, org.id, admin)
    assert body["data"]["exportMembers"]["rowCount"] == 2
    lines = by_username(lines_of(body))
    assigned = f"{provider.name} ({provider.npi})"
    assert lines[admin] == [
        admin.title(),
        admin,
        f"{admin}@example.org",
        "ACCOUNT_ADMIN; PROVIDER",
        "CARELON; ONLINE_SERVICES",
        assigned,
        "ACTIVE",
        "",
    ]
    assert lines[staff] == [
        staff.title(),
        staff,
        f"{staff}@example.org",
        "STAFF",
        "ONLINE_SERVICES",
        assigned,
        "ACTIVE",
        "2024-05-01T09:30:00+00:00",
    ]


async def test_status_filter_defaults_to_active_members(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 2})
    admin, left = org.user("ACCOUNT_ADMIN"), org.user("STAFF", 2)
    async with db.transaction() as session:
        await session.execute(
            update(Membership).where(Membership.id == org.members[left]).values(status="REMOVED")
        )
    active = set(by_username(lines_of(await export(api, org.id, admin))))
    assert active == {admin, org.user("STAFF", 1)}
    removed = by_username(lines_of(await export(api, org.id, admin, ["REMOVED"])))
    assert set(removed) == {left} and removed[left][6] == "REMOVED"
    both = await export(api, org.id, admin, ["ACTIVE", "REMOVED"])
    assert set(by_username(lines_of(both))) == {*active, left}


async def test_memberships_in_other_organizations_stay_out(api: Api, db: Database) -> None:
    """V5: a member's roles elsewhere are not part of this organization's export."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    other = await make_org(db, members={"STAFF": 1})
    staff = other.user("STAFF")
    async with db.transaction() as session:
        await session.execute(
            insert(Membership),
            [
                {
                    "user_id": other.users[staff],
                    "organization_id": org.id,
                    "status": "ACTIVE",
                    "employment": "EMPLOYEE",
                }
            ],
        )
    lines = by_username(lines_of(await export(api, org.id, org.user("ACCOUNT_ADMIN"))))
    assert lines[staff][3:6] == ["", "", ""]  # no roles, eTools or providers here


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1 602 555 0100", "'+1 602 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("Ada =Smith", "Ada =Smith"),
        ("", ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_quoted(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


async def test_formula_injection_is_neutralized_in_the_export(api: Api, db: Database) -> None:
    """A member who names themselves "=cmd|..." cannot make the admin's spreadsheet run it;
    commas, quotes and line breaks survive as data."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 1})
    staff = org.user("STAFF")
    await set_user(db, org.users[staff], name="=cmd|' /C calc'!A0")
    async with db.transaction() as session:
        await session.execute(
            update(Provider)
            .where(Provider.id == org.providers[0])
            .values(name='@Dr. "Quote", Line\nBreak')
        )
    lines = by_username(lines_of(await export(api, org.id, org.user("ACCOUNT_ADMIN"))))
    assert lines[staff][0] == "'=cmd|' /C calc'!A0"
    assert lines[staff][5].startswith('\'@Dr. "Quote", Line\nBreak (')


async def test_the_export_is_in_the_access_log(api: Api, db: Database) -> None:
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1})
    await export(api, org.id, org.user("ACCOUNT_ADMIN"))
    async with db.session() as session:
        rows = (
            await session.execute(
                select(AccessLogEntry.object_type, AccessLogEntry.field, AccessLogEntry.decision)
                .where(has_object(None, org.id))
                .order_by(AccessLogEntry.seq)
            )
        ).all()
    assert ("Query", "exportMembers", "allow") in [tuple(r) for r in rows]
    assert ("MemberExport", "csv", "allow") in [tuple(r) for r in rows]


# ---- cost ---------------------------------------------------------------------------------------


async def statements_for(api: Api, app: Starlette, org: Org) -> int:
    with counting(app) as statements:
        body = await export(api, org.id, org.user("ACCOUNT_ADMIN"))
    assert body["data"]["exportMembers"]["rowCount"] == len(org.members)
    return len(statements)


async def test_statement_count_does_not_grow_with_members(
    api: Api, app: Starlette, db: Database
) -> None:
    """Set-based reads: the same handful of statements for 5 members or 40 (no N+1)."""
    small = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 4})
    large = await make_org(db, members={"ACCOUNT_ADMIN": 1, "STAFF": 39})
    assert await statements_for(api, app, small) == await statements_for(api, app, large)
