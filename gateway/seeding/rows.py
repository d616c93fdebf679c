"""Seed items as the column dictionaries the bulk inserts take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.seeding.document import OrganizationSeed, SeedDocument, UserSeed

Row = dict[str, Any]
ProviderKeys = Mapping[tuple[str, str], int]  # (organization name, NPI) -> provider id


def organization_row(org: OrganizationSeed, now: datetime) -> Row:
    address = org.correspondence_address
    return {
        "name": org.name,
        "kind": org.kind.value,
        "provider_id": org.provider_id,
        "npi": org.npi,
        "status": org.status.value,
        "address_line1": address.line1 if address else None,
        "address_line2": address.line2 if address else None,
        "address_city": address.city if address else None,
        "address_state": address.state if address else None,
        "address_zip": address.zip if address else None,
        "created_at": now,
    }


def tax_id_rows(orgs: Sequence[OrganizationSeed], ids: Mapping[str, int]) -> list[Row]:
    return [{"organization_id": ids[o.name], "tin": tin} for o in orgs for tin in o.tax_ids]


def registered_tin_rows(orgs: Sequence[OrganizationSeed], ids: Mapping[str, int]) -> list[Row]:
    """R10: the TINs on an account are registered to it, and so are its ``registeredTaxIds``."""
    return [
        {"organization_id": ids[o.name], "tin": tin}
        for o in orgs
        for tin in dict.fromkeys([*o.tax_ids, *o.registered_tax_ids])
    ]


def eft_rows(orgs: Sequence[OrganizationSeed], ids: Mapping[str, int], now: datetime) -> list[Row]:
    return [
        {
            "organization_id": ids[o.name],
            "bank_name": o.eft_account.bank_name,
            "routing_number": o.eft_account.routing_number,
            "account_number": o.eft_account.account_number,
            "updated_at": now,
        }
        for o in orgs
        if o.eft_account is not None
    ]


def provider_rows(orgs: Sequence[OrganizationSeed], ids: Mapping[str, int]) -> list[Row]:
    return [
        {
            "organization_id": ids[o.name],
            "npi": p.npi,
            "name": p.name,
            "specialty": p.specialty,
            "dea_number": p.dea_number,
        }
        for o in orgs
        for p in o.providers
    ]


def user_row(user: UserSeed, password_hash: str | None, now: datetime) -> Row:
    return {
        "username": user.username,
        "email": user.email,
        # Unique: emails compare case-insensitively, "name+tag@x" stays distinct (seed 003).
        "email_normalized": user.email.lower(),
        "name": user.name,
        "phone": user.phone,
        "status": user.status.value,
        "password_hash": password_hash,
        "password_changed_at": now if password_hash else None,
        "failed_logins": 0,
        "token_version": 0,
        "created_at": now,
    }


def membership_rows(
    document: SeedDocument, memberships: Mapping[tuple[str, str], int], providers: ProviderKeys
) -> tuple[list[Row], list[Row], list[Row]]:
    """Role, eTool and provider-assignment rows of every membership."""
    roles: list[Row] = []
    etools: list[Row] = []
    assignments: list[Row] = []
    for m in document.memberships:
        membership_id = memberships[(m.user, m.organization)]
        roles += [{"membership_id": membership_id, "role": role.value} for role in m.roles]
        etools += [{"membership_id": membership_id, "etool": tool.value} for tool in m.etools]
        assignments += [
            {"membership_id": membership_id, "provider_id": providers[(m.organization, npi)]}
            for npi in m.providers
        ]
    return roles, etools, assignments


def grant_rows(
    document: SeedDocument,
    organizations: Mapping[str, int],
    providers: ProviderKeys,
    users: Mapping[str, int],
    grants: Mapping[tuple[int, int], int],
) -> tuple[list[Row], list[Row]]:
    """Provider-scope and staff rows of every agency grant (no provider rows: all providers)."""
    scope: list[Row] = []
    staff: list[Row] = []
    for g in document.agency_grants:
        grant_id = grants[(organizations[g.organization], organizations[g.agency])]
        scope += [
            {"grant_id": grant_id, "provider_id": providers[(g.organization, npi)]}
            for npi in g.providers or ()
        ]
        staff += [{"grant_id": grant_id, "user_id": users[name]} for name in g.staff]
    return scope, staff


def payer_role_rows(document: SeedDocument, users: Mapping[str, int]) -> list[Row]:
    return [{"user_id": users[p.user], "role": p.role.value} for p in document.payer_roles]
