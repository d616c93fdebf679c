"""The organization's EFT (bank) account: the financial manager's alone (SPEC 2, V3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.domain.members import lock_organization
from gateway.errors import BadUserInput
from gateway.models import EftAccount, utcnow

ROUTING_NUMBER = re.compile(r"[0-9]{9}")
ACCOUNT_NUMBER = re.compile(r"[0-9]{4,17}")
ABA_WEIGHTS = (3, 7, 1) * 3
BANK_NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class EftDetails:
    """A new EFT account as the financial manager typed it (the account number twice)."""

    bank_name: str
    routing_number: str
    account_number: str = field(repr=False)
    account_number_confirmation: str = field(repr=False)


def is_valid_routing_number(value: str) -> bool:
    """Nine digits whose ABA checksum 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) is 0 mod 10."""
    if not ROUTING_NUMBER.fullmatch(value):
        return False
    return sum(w * int(d) for w, d in zip(ABA_WEIGHTS, value, strict=True)) % 10 == 0


def check_details(details: EftDetails) -> None:
    """Refuse input a bank would bounce, naming the field (never echoing the number)."""
    if not 1 <= len(details.bank_name.strip()) <= BANK_NAME_MAX:
        raise _invalid("bankName", f"a bank name is 1 to {BANK_NAME_MAX} characters")
    if not is_valid_routing_number(details.routing_number):
        raise _invalid("routingNumber", "a routing number is 9 digits with a valid ABA check digit")
    if not ACCOUNT_NUMBER.fullmatch(details.account_number):
        raise _invalid("accountNumber", "an account number is 4 to 17 digits")
    if details.account_number_confirmation != details.account_number:
        raise _invalid(
            "accountNumberConfirmation", "the account number was not typed the same twice"
        )


async def update_eft_account(
    session: AsyncSession, *, org_id: int, details: EftDetails
) -> EftAccount:
    """Create or replace the organization's EFT account."""
    check_details(details)
    # Serialized per organization, so two first-time saves do not both insert.
    await lock_organization(session, org_id)
    row = await session.get(EftAccount, org_id)
    if row is None:
        row = EftAccount(organization_id=org_id)
        session.add(row)
    row.bank_name = details.bank_name.strip()
    row.routing_number = details.routing_number
    row.account_number = details.account_number
    row.updated_at = utcnow()
    await session.flush()
    return row


def _invalid(field_name: str, message: str) -> BadUserInput:
    return BadUserInput(f"`{field_name}`: {message}", argument=field_name)
