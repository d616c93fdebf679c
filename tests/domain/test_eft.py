"""The EFT account: updateEftAccount is the financial manager's, validated before it is saved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from gateway.data.db import Database
from gateway.domain.eft import is_valid_routing_number
from gateway.models import EftAccount
from tests.support import JSON, Api, World, role_table
from tests.support.factories import Org, make_org

UPDATE = """mutation Eft($org: ID!, $input: EftAccountInput!) {
  updateEftAccount(organizationId: $org, input: $input) {
    id bankName routingNumber accountNumber } }"""
READ = """query($id: ID!) { organization(id: $id) {
  eftAccount { id bankName routingNumber accountNumber } } }"""

VALID = {
    "bankName": "Canyon Credit Union",
    "routingNumber": "021000021",
    "accountNumber": "000987654321",
    "accountNumberConfirmation": "000987654321",
}
OLD = ("First Bank", "011000015", "000123456789")


async def eft_org(db: Database, *, with_account: bool = True) -> Org:
    """A factory organization with a financial manager and (unless told) an EFT account."""
    org = await make_org(db, members={"ACCOUNT_ADMIN": 1, "FINANCIAL_MANAGER": 1})
    if with_account:
        async with db.transaction() as session:
            await session.execute(
                insert(EftAccount),
                [
                    {
                        "organization_id": org.id,
                        "bank_name": OLD[0],
                        "routing_number": OLD[1],
                        "account_number": OLD[2],
                        "updated_at": datetime(2020, 1, 1, tzinfo=UTC),
                    }
                ],
            )
    return org


async def update(api: Api, org_id: int | str, actor: str | None, **changes: str) -> JSON:
    variables = {"org": str(org_id), "input": {**VALID, **changes}}
    return await api.query(UPDATE, as_user=actor, variables=variables)


async def stored(db: Database, org_id: int) -> tuple[str, str, str] | None:
    async with db.session() as session:
        row = await session.get(EftAccount, org_id)
    return None if row is None else (row.bank_name, row.routing_number, row.account_number)


def error_of(body: JSON) -> JSON:
    (error,) = body["errors"]
    extensions: JSON = error["extensions"]
    return extensions


# ---- who may change it: the financial manager alone (not the admin) ----------------------------

CALLERS = role_table("finance")


@pytest.mark.parametrize(("caller", "allowed"), CALLERS.items())
async def test_who_may_change_sunrises_eft_account(
    api: Api, db: Database, world: World, caller: str | None, allowed: bool
) -> None:
    """The allowed caller reaches validation (a bad routing number); nobody changes anything."""
    org_id = world.orgs["Sunrise Family Practice"]
    body = await update(api, org_id, caller, routingNumber="011000016")
    refused = "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    assert error_of(body)["code"] == ("BAD_USER_INPUT" if allowed else refused)
    assert await stored(db, org_id) == OLD


# ---- validation ---------------------------------------------------------------------------------

ROUTING_NUMBERS = [
    ("011000015", True),
    ("021000021", True),
    ("011000016", False),  # check digit off by one
    ("12345678", False),  # 8 digits
    ("0110000150", False),  # 10 digits
    ("01100001A", False),  # letters
    ("ABCDEFGHI", False),
    ("\u0660\u0661\u0661\u0660\u0660\u0660\u0660\u0661\u0665", False),  # digits, but not ASCII ones
]


@pytest.mark.parametrize(("routing", "valid"), ROUTING_NUMBERS)
def test_aba_checksum(routing: str, valid: bool) -> None:
    assert is_valid_routing_number(routing) is valid


@pytest.mark.parametrize(("routing", "valid"), ROUTING_NUMBERS)
async def test_routing_number_is_checked_before_saving(
    api: Api, db: Database, routing: str, valid: bool
) -> None:
    org = await eft_org(db)
    body = await update(api, org.id, org.user("FINANCIAL_MANAGER"), routingNumber=routing)
    if valid:
        assert body["data"]["updateEftAccount"]["routingNumber"] == routing
        assert await stored(db, org.id) == (VALID["bankName"], routing, VALID["accountNumber"])
    else:
        assert error_of(body) == {"code": "BAD_USER_INPUT", "argument": "routingNumber"}
        assert await stored(db, org.id) == OLD


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"accountNumber": "123", "accountNumberConfirmation": "123"}, "accountNumber"),
        ({"accountNumber": "1" * 18, "accountNumberConfirmation": "1" * 18}, "accountNumber"),
        ({"accountNumber": "12345x", "accountNumberConfirmation": "12345x"}, "accountNumber"),
        ({"accountNumber": "1234", "accountNumberConfirmation": "1234"}, None),
        ({"accountNumber": "1" * 17, "accountNumberConfirmation": "1" * 17}, None),
        ({"accountNumberConfirmation": "000987654312"}, "accountNumberConfirmation"),
        ({"bankName": "   "}, "bankName"),
        ({"bankName": "B" * 201}, "bankName"),
    ],
)
async def test_account_number_and_bank_name_are_checked(
    api: Api, db: Database, changes: dict[str, str], argument: str | None
) -> None:
    org = await eft_org(db)
    body = await update(api, org.id, org.user("FINANCIAL_MANAGER"), **changes)
    if argument is None:
        assert "errors" not in body, body
        return
    assert error_of(body) == {"code": "BAD_USER_INPUT", "argument": argument}
    assert await stored(db, org.id) == OLD  # a refused change leaves the account as it was


async def test_a_mistyped_confirmation_is_never_echoed(api: Api, db: Database) -> None:
    org = await eft_org(db)
    body = await update(
        api, org.id, org.user("FINANCIAL_MANAGER"), accountNumberConfirmation="000987654399"
    )
    assert "0009876543" not in body["errors"][0]["message"]


# ---- creating and replacing ---------------------------------------------------------------------


async def test_financial_manager_creates_then_replaces_the_account(api: Api, db: Database) -> None:
    org = await eft_org(db, with_account=False)
    manager = org.user("FINANCIAL_MANAGER")
    created = await update(api, org.id, manager)
    assert created["data"]["updateEftAccount"] == {
        "id": str(org.id),
        "bankName": "Canyon Credit Union",
        "routingNumber": "021000021",
        "accountNumber": "000987654321",
    }
    replaced = await update(
        api,
        org.id,
        manager,
        bankName="  First Bank  ",
        routingNumber="011000015",
        accountNumber="55554444",
        accountNumberConfirmation="55554444",
    )
    assert replaced["data"]["updateEftAccount"]["accountNumber"] == "55554444"
    assert await stored(db, org.id) == ("First Bank", "011000015", "55554444")
    read = await api.query(READ, as_user=manager, variables={"id": str(org.id)})
    assert read["data"]["organization"]["eftAccount"] == replaced["data"]["updateEftAccount"]


async def test_replacing_records_when(api: Api, db: Database) -> None:
    org = await eft_org(db)
    before = datetime.now(UTC)
    await update(api, org.id, org.user("FINANCIAL_MANAGER"))
    async with db.session() as session:
        row = await session.get(EftAccount, org.id)
    assert row is not None and row.updated_at >= before.replace(microsecond=0)


async def test_the_auditor_sees_the_new_account_masked_and_the_admin_not_at_all(
    api: Api, db: Database
) -> None:
    org = await eft_org(db)
    await update(api, org.id, org.user("FINANCIAL_MANAGER"))
    audit = await api.query(READ, as_user="auditor", variables={"id": str(org.id)})
    assert audit["data"]["organization"]["eftAccount"] == {
        "id": str(org.id),
        "bankName": "Canyon Credit Union",
        "routingNumber": "*****0021",
        "accountNumber": "********4321",
    }
    admin = await api.query(READ, as_user=org.user("ACCOUNT_ADMIN"), variables={"id": str(org.id)})
    assert admin["data"]["organization"]["eftAccount"] is None
    assert admin["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_admin_may_not_change_it(api: Api, db: Database) -> None:
    org = await eft_org(db)
    body = await update(api, org.id, org.user("ACCOUNT_ADMIN"))
    assert error_of(body)["code"] == "FORBIDDEN"
    assert await stored(db, org.id) == OLD


# ---- concurrency --------------------------------------------------------------------------------


async def test_two_first_saves_at_once_leave_one_account(api: Api, db: Database) -> None:
    """Truly concurrent first-time saves are serialized: both succeed, one row remains, and it
    is one of the two (never a mix, never a server error)."""
    for _ in range(6):
        org = await eft_org(db, with_account=False)
        manager = org.user("FINANCIAL_MANAGER")
        bodies = await asyncio.gather(
            update(api, org.id, manager),
            update(
                api,
                org.id,
                manager,
                routingNumber="011000015",
                accountNumber="4444",
                accountNumberConfirmation="4444",
            ),
        )
        assert all("errors" not in b for b in bodies), bodies
        async with db.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(EftAccount)
                .where(EftAccount.organization_id == org.id)
            )
        assert count == 1
        assert await stored(db, org.id) in {
            (VALID["bankName"], "021000021", "000987654321"),
            (VALID["bankName"], "011000015", "4444"),
        }
