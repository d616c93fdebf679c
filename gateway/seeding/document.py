"""The seed document (SPEC section 4) as pydantic models: shapes, types and vocabularies.

Cross-references (a membership naming a user, an NPI belonging to its organization, ...) are
checked afterwards by :mod:`gateway.seeding.checks`; this module only knows one item at a time.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel

from gateway.catalog import (
    HEALTH_PLAN_ROLES,
    ORGANIZATION_ROLES,
    Employment,
    EToolCode,
    GrantStatus,
    MembershipStatus,
    OrganizationKind,
    OrganizationStatus,
    RoleCode,
    UserStatus,
)

E = TypeVar("E", bound=StrEnum)


def vocabulary(
    enum: type[E], what: str, allowed: frozenset[E] | None = None, elsewhere: str = ""
) -> PlainValidator:
    """A code from one of the catalog's vocabularies, with a message naming the bad value."""
    choices = [member for member in enum if allowed is None or member in allowed]
    expected = ", ".join(choices)

    def validate(value: object) -> E:
        if not isinstance(value, str):
            raise ValueError(f"expected a {what} code, one of {expected}")
        if value not in enum.__members__:
            raise ValueError(f"unknown {what} '{value}' (expected one of {expected})")
        member = enum(value)
        if member not in choices:
            raise ValueError(f"{what} '{value}' is not allowed here{elsewhere}")
        return member

    return PlainValidator(validate)


def matching(pattern: str, description: str) -> AfterValidator:
    """A string that must match ``pattern``; the message says what was expected."""
    compiled = re.compile(pattern)

    def validate(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{description}, got '{value}'")
        return value

    return AfterValidator(validate)


def length(low: int, high: int) -> AfterValidator:
    def validate(value: str) -> str:
        if not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters long")
        return value

    return AfterValidator(validate)


Text200 = Annotated[str, length(1, 200)]
Text100 = Annotated[str, length(1, 100)]
Npi = Annotated[str, matching(r"\d{10}", "an NPI must be exactly 10 digits")]
Tin = Annotated[str, matching(r"\d{9}", "a TIN must be exactly 9 digits")]
Username = Annotated[
    str,
    matching(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        "a username is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
]
Email = Annotated[
    str,
    length(3, 254),
    matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "expected an email address like name@example.org"),
]

OrgKind = Annotated[OrganizationKind, vocabulary(OrganizationKind, "organization kind")]
OrgStatus = Annotated[OrganizationStatus, vocabulary(OrganizationStatus, "organization status")]
UserState = Annotated[UserStatus, vocabulary(UserStatus, "user status")]
MemberState = Annotated[MembershipStatus, vocabulary(MembershipStatus, "membership status")]
EmploymentKind = Annotated[Employment, vocabulary(Employment, "employment")]
GrantState = Annotated[GrantStatus, vocabulary(GrantStatus, "grant status")]
ETool = Annotated[EToolCode, vocabulary(EToolCode, "eTool")]
OrgRole = Annotated[
    RoleCode,
    vocabulary(
        RoleCode, "role", ORGANIZATION_ROLES, " (a health-plan role: list it under payerRoles)"
    ),
]
PlanRole = Annotated[
    RoleCode,
    vocabulary(
        RoleCode, "role", HEALTH_PLAN_ROLES, " (an organization role: list it under memberships)"
    ),
]


class SeedModel(BaseModel):
    """Strict keys in camelCase (``providerId``); Python code may build them by field name."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


class AddressSeed(SeedModel):
    line1: Text200
    line2: Text200 | None = None
    city: Text100
    state: Annotated[str, matching(r"[A-Z]{2}", "expected a two-letter state code like AZ")]
    zip: Annotated[str, matching(r"\d{5}(-\d{4})?", 'expected a ZIP code like "85001"')]


class EftAccountSeed(SeedModel):
    bank_name: Text200
    routing_number: Annotated[str, matching(r"\d{9}", "a routing number must be exactly 9 digits")]
    account_number: Annotated[
        str, matching(r"\d{4,17}", "an account number must be 4 to 17 digits")
    ]


class ProviderSeed(SeedModel):
    npi: Npi
    name: Text200
    specialty: Text100 | None = None
    dea_number: (
        Annotated[str, matching(r"[A-Z]{2}\d{7}", "a DEA number is 2 letters and 7 digits")] | None
    ) = None


class OrganizationSeed(SeedModel):
    name: Text200
    kind: OrgKind
    provider_id: Annotated[str, length(1, 32)]
    npi: Npi | None = None
    tax_ids: list[Tin] = Field(default_factory=list)
    # R10: TINs the plan has on file for the organization but not on its account (taxIds are
    # registered too).
    registered_tax_ids: list[Tin] = Field(default_factory=list)
    status: OrgStatus = OrganizationStatus.ACTIVE
    correspondence_address: AddressSeed | None = None
    eft_account: EftAccountSeed | None = None
    providers: list[ProviderSeed] = Field(default_factory=list)


class UserSeed(SeedModel):
    username: Username
    email: Email
    name: Text200
    phone: Annotated[str, length(1, 32)] | None = None
    # Only the hash is stored; repr=False keeps the plaintext out of logs and tracebacks.
    password: Annotated[str, length(8, 1024)] | None = Field(default=None, repr=False)
    status: UserState = UserStatus.ACTIVE


class MembershipSeed(SeedModel):
    user: str
    organization: str
    employment: EmploymentKind
    roles: list[OrgRole] = Field(default_factory=list)
    etools: list[ETool] = Field(default_factory=list)
    providers: list[Npi] = Field(default_factory=list)  # assignments by NPI
    status: MemberState = MembershipStatus.ACTIVE


class AgencyGrantSeed(SeedModel):
    organization: str
    agency: str
    status: GrantState
    providers: list[Npi] | None = None  # None: every provider of the organization
    staff: list[str] = Field(default_factory=list)  # agency usernames assigned to this client


class PayerRoleSeed(SeedModel):
    user: str
    role: PlanRole


class SeedDocument(SeedModel):
    """A whole seed file; every list may be omitted."""

    organizations: list[OrganizationSeed] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)
    memberships: list[MembershipSeed] = Field(default_factory=list)
    agency_grants: list[AgencyGrantSeed] = Field(default_factory=list)
    payer_roles: list[PayerRoleSeed] = Field(default_factory=list)
