"""Tax IDs on an account: addTaxId and removeTaxId under R10."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from gateway.data.db import Database
from gateway.migrate import upgrade
from gateway.models import Organization, RegisteredTin, TaxId
from gateway.seeding import SeedError, seed_file
from gateway.settings import Settings
from tests.support import JSON, Api, World, error_of, role_table
from tests.support.factories import Org, make_org

ADD = """mutation Add($org: ID!, $tin: String!) {
  addTaxId(organizationId: $org, tin: $tin) { id tin } }"""
REMOVE = """mutation Remove($org: ID!, $taxId: ID!) {
  removeTaxId(organizationId: $org, taxIdId: $taxId) { id tin } }"""
TAX_IDS = "query($id: ID!) { organization(id: $id) { taxIds { id tin } } }"


async def tin_org(
    db: Database, *, on_account: Iterable[str], registered: Iterable[str] = ()
) -> Org:
    """A factory organization whose account holds ``on_account`` (registered to it, as the
    seed file does) and whose registry also holds ``registered``."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "OFFICE_MANAGER": 1, "STAFF": 1})
    on_account = list(on_account)
    async with db.transaction() as session:
        await session.execute(
            insert(RegisteredTin),
            [{"organization_id": org.id, "tin": t} for t in [*on_account, *registered]],
        )
        if on_account:
            await session.execute(
                insert(TaxId), [{"organization_id": org.id, "tin": t} for t in on_account]
            )
    return org


async def add(api: Api, org_id: int | str, actor: str | None, tin: str) -> JSON:
    return await api.query(ADD, as_user=actor, variables={"org": str(org_id), "tin": tin})


async def remove(api: Api, org_id: int | str, actor: str | None, tax_id: int | str) -> JSON:
    variables = {"org": str(org_id), "taxId": str(tax_id)}
    return await api.query(REMOVE, as_user=actor, variables=variables)


async def account_tins(db: Database, org_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TaxId.tin).where(TaxId.organization_id == org_id).order_by(TaxId.tin)
        )
        return list(rows)


async def tax_id_of(db: Database, org_id: int, tin: str) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(TaxId.id).where(TaxId.organization_id == org_id, TaxId.tin == tin)
        )
    assert found is not None
    return found


# ---- who may call them at all: every caller of the fixture world ------------------------------

CALLERS = role_table("admin", "office")


@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_add_a_tax_id_to_sunrise(
    api: Api, db: Database, world: World, caller: str | None, allowed: bool
) -> None:
    """An allowed caller reaches R10 (the TIN is not Sunrise's); nobody changes anything."""
    org_id = world.orgs["Sunrise Family Practice"]
    body = await add(api, org_id, caller, "999999999")
    expected = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    assert error_of(body) == (("BAD_USER_INPUT", "R10") if allowed else (expected, None))
    assert await account_tins(db, org_id) == ["111111111", "111111112"]


@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_remove_a_tax_id_from_sunrise(
    api: Api, world: World, caller: str | None, allowed: bool
) -> None:
    """An allowed caller reaches the domain (NOT_FOUND: no such tax ID); the rest are refused."""
    body = await remove(api, world.orgs["Sunrise Family Practice"], caller, "987654")
    refused = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    assert error_of(body)[0] == ("NOT_FOUND" if allowed else refused)


async def test_an_admin_elsewhere_is_only_staff_here(api: Api, db: Database, world: World) -> None:
    """Roles are per organization: Sunrise's admin is staff at Desert Spine."""
    org_id = world.orgs["Desert Spine Chiropractic"]
    assert error_of(await add(api, org_id, "admin", "222222222")) == ("FORBIDDEN", None)
    assert await account_tins(db, org_id) == ["222222222"]


# ---- R10 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ACCOUNT_ADMIN", "OFFICE_MANAGER"])
async def test_a_tin_registered_to_the_organization_is_added(
    api: Api, db: Database, role: str
) -> None:
    org = await tin_org(db, on_account=["510000001"], registered=["510000002"])
    body = await add(api, org.id, org.user(role), "510000002")
    added = body["data"]["addTaxId"]
    assert added == {"id": str(await tax_id_of(db, org.id, "510000002")), "tin": "510000002"}
    listed = await api.query(TAX_IDS, as_user=org.user(role), variables={"id": str(org.id)})
    assert [t["tin"] for t in listed["data"]["organization"]["taxIds"]] == [
        "510000001",
        "510000002",
    ]


async def test_a_tin_of_another_organization_is_refused_like_an_unregistered_one(
    api: Api, db: Database
) -> None:
    """Seed 000: not the TINs of other organizations a biller works for. The answer must not
    tell whether the TIN belongs to someone else (the registry is not an oracle)."""
    other = await tin_org(db, on_account=["520000001"], registered=["520000002"])
    org = await tin_org(db, on_account=["520000003"])
    admin = org.user("ACCOUNT_ADMIN")
    theirs_on_account = await add(api, org.id, admin, "520000001")
    theirs_registered = await add(api, org.id, admin, "520000002")
    nobodys = await add(api, org.id, admin, "520000009")
    assert error_of(nobodys) == ("BAD_USER_INPUT", "R10")
    assert theirs_on_account["errors"] == nobodys["errors"]
    assert theirs_registered["errors"] == nobodys["errors"]
    assert await account_tins(db, org.id) == ["520000003"]
    assert await account_tins(db, other.id) == ["520000001"]


async def test_a_tin_already_on_the_account_is_a_conflict(api: Api, db: Database) -> None:
    org = await tin_org(db, on_account=["530000001"])
    body = await add(api, org.id, org.user("OFFICE_MANAGER"), "530000001")
    assert error_of(body) == ("CONFLICT", "R10")
    assert await account_tins(db, org.id) == ["530000001"]


@pytest.mark.parametrize(
    "tin",
    [
        "54000000",
        "5400000001",
        "54000000a",
        "540-00-0001",
        " 540000001",
        "\u0665\u0664\u0660\u0660\u0660\u0660\u0660\u0660\u0661",  # Arabic-Indic digits
        "",
    ],
)
async def test_a_tin_is_exactly_nine_digits(api: Api, db: Database, tin: str) -> None:
    org = await tin_org(db, on_account=["540000002"])
    body = await add(api, org.id, org.user("ACCOUNT_ADMIN"), tin)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "tin"}
    assert await account_tins(db, org.id) == ["540000002"]


async def test_a_tin_is_removed_but_the_last_one_stays(api: Api, db: Database) -> None:
    """SPEC 2: an organization has one or more tax IDs, so the last one cannot be removed
    (add the replacement first)."""
    org = await tin_org(db, on_account=["550000001", "550000002"])
    admin = org.user("ACCOUNT_ADMIN")
    first = await tax_id_of(db, org.id, "550000001")
    body = await remove(api, org.id, admin, first)
    assert body["data"]["removeTaxId"] == {"id": str(first), "tin": "550000001"}
    last = await tax_id_of(db, org.id, "550000002")
    assert error_of(await remove(api, org.id, admin, last)) == ("CONFLICT", "R10")
    assert await account_tins(db, org.id) == ["550000002"]


async def test_a_removed_tin_can_be_added_again(api: Api, db: Database) -> None:
    """Taking a TIN off the account leaves it registered to the organization."""
    org = await tin_org(db, on_account=["560000001", "560000002"])
    admin = org.user("ACCOUNT_ADMIN")
    await remove(api, org.id, admin, await tax_id_of(db, org.id, "560000001"))
    assert "errors" not in await add(api, org.id, admin, "560000001")
    assert await account_tins(db, org.id) == ["560000001", "560000002"]


async def test_a_tax_id_of_another_organization_is_not_found(api: Api, db: Database) -> None:
    """Naming your own organization does not reach another one's tax IDs."""
    org = await tin_org(db, on_account=["570000001", "570000002"])
    other = await tin_org(db, on_account=["570000003", "570000004"])
    theirs = await tax_id_of(db, other.id, "570000003")
    body = await remove(api, org.id, org.user("ACCOUNT_ADMIN"), theirs)
    assert error_of(body) == ("NOT_FOUND", None)
    assert await account_tins(db, other.id) == ["570000003", "570000004"]


# ---- concurrency ------------------------------------------------------------------------------


async def test_the_same_tin_added_twice_at_once_is_added_once(api: Api, db: Database) -> None:
    """Truly concurrent requests: one adds, the other sees a CONFLICT (never a server error)."""
    for _ in range(6):
        org = await tin_org(db, on_account=["590000001"], registered=["590000002"])
        manager, admin = org.user("OFFICE_MANAGER"), org.user("ACCOUNT_ADMIN")
        bodies = await asyncio.gather(
            add(api, org.id, manager, "590000002"), add(api, org.id, admin, "590000002")
        )
        assert sorted("errors" in b for b in bodies) == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R10")
        assert await account_tins(db, org.id) == ["590000001", "590000002"]


async def test_removing_both_tins_at_once_leaves_one(api: Api, db: Database) -> None:
    for _ in range(6):
        org = await tin_org(db, on_account=["600000001", "600000002"])
        first = await tax_id_of(db, org.id, "600000001")
        second = await tax_id_of(db, org.id, "600000002")
        bodies = await asyncio.gather(
            remove(api, org.id, org.user("ACCOUNT_ADMIN"), first),
            remove(api, org.id, org.user("OFFICE_MANAGER"), second),
        )
        assert sorted("errors" in b for b in bodies) == [False, True]
        assert error_of(next(b for b in bodies if "errors" in b)) == ("CONFLICT", "R10")
        assert len(await account_tins(db, org.id)) == 1


# ---- seeding the registry ---------------------------------------------------------------------


async def registry_of(db: Database, org_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(RegisteredTin.tin)
            .where(RegisteredTin.organization_id == org_id)
            .order_by(RegisteredTin.tin)
        )
        return list(rows)


async def test_the_fixture_worlds_tins_are_registered_to_their_organizations(
    db: Database, world: World
) -> None:
    assert await registry_of(db, world.orgs["Sunrise Family Practice"]) == [
        "111111111",
        "111111112",
    ]
    assert await registry_of(db, world.orgs["Summit Billing LLC"]) == ["333333333"]


SEED = """\
organizations:
  - name: Registry Practice
    kind: GROUP_PRACTICE
    providerId: P-0001
    taxIds: ["123456789"]
    registeredTaxIds: [{registered}]
"""


@pytest.fixture
def seed_settings(tmp_path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/registry.db")
    upgrade(settings)
    return settings


async def test_seed_file_registers_tax_ids_and_registered_tax_ids(
    seed_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED.format(registered='"987654321", "123456789"'))
    await seed_file(seed_settings, path)
    db = Database(seed_settings.database_url)
    try:
        async with db.session() as session:
            org_id = await session.scalar(select(Organization.id))
        assert org_id is not None
        assert await account_tins(db, org_id) == ["123456789"]
        assert await registry_of(db, org_id) == ["123456789", "987654321"]
    finally:
        await db.dispose()


async def test_seed_file_names_a_repeated_registered_tax_id(
    seed_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED.format(registered='"987654321", "987654321"'))
    with pytest.raises(SeedError) as caught:
        await seed_file(seed_settings, path)
    assert "organizations[0].registeredTaxIds[1]" in str(caught.value)
