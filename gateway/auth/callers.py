"""Loading the caller: their roles per organization, assignments and grants, in one statement.

Roles and scope are loaded on every request and never taken from the token, so a removal
takes effect on the member's very next request (R8). The token's version is checked in the
same statement (R14): a bumped version leaves the caller anonymous.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute

from gateway.auth.caller import ANONYMOUS_CALLER, Caller
from gateway.auth.tokens import Bearer
from gateway.catalog import GrantStatus, MembershipStatus, OrganizationStatus, RoleCode, UserStatus
from gateway.data import Database
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Membership,
    MembershipRole,
    Organization,
    PartnerClient,
    PayerRole,
    ProviderAssignment,
    User,
)
from gateway.settings import Settings

SIGNED_IN_STATUSES = (UserStatus.ACTIVE,)
# Bits of the caller statement's user row (R14): what restricts the session.
PASSWORD_EXPIRED_FLAG, SECOND_FACTOR_MISSING_FLAG = 1, 2


def password_expired(changed_at: datetime | None, settings: Settings, now: datetime) -> bool:
    """R14: a password older than ``password_max_age_days`` must be changed."""
    return changed_at is not None and changed_at < _expiry_cutoff(settings, now)


def _expiry_cutoff(settings: Settings, now: datetime) -> datetime:
    return now - timedelta(days=settings.password_max_age_days)


async def load_caller(
    db: Database, bearer: Bearer | None, settings: Settings, now: datetime | None = None
) -> Caller:
    """The caller's identity, roles per organization and provider scope, in one statement.

    Anonymous unless the token names an ACTIVE user at their current token version."""
    if bearer is None or bearer.refusal is not None or bearer.subject is None:
        return ANONYMOUS_CALLER
    cutoff = _expiry_cutoff(settings, now or datetime.now(UTC))
    # R14: the gateway asks for its second factor only on its own tokens; an external
    # provider's (no version) signed in with whatever factors that provider requires.
    required = settings.totp_required_roles if bearer.version is not None else frozenset()
    statement = _caller_statement(bearer.version is not None, required)
    parameters = {"username": bearer.subject, "version": bearer.version, "cutoff": cutoff}
    async with db.session() as session:
        rows = (await session.execute(statement, parameters)).all()
    users = [(number, text, flags) for kind, number, text, flags in rows if kind == "user"]
    partner = [row for row in rows if row[0] == "partner"]
    if not users or (bearer.partner_only and not partner):
        return ANONYMOUS_CALLER
    # A service account signs in only with its own client's tokens, never an external
    # provider's (its username is no secret), and only while its agency is ACTIVE.
    if partner and (bearer.version is None or not partner[0][3]):
        return ANONYMOUS_CALLER
    user_id, username, flags = users[0]
    if flags & PASSWORD_EXPIRED_FLAG:  # R14: only changePassword and logout until changed
        return Caller(user_id=user_id, username=username, password_expired=True)
    if flags & SECOND_FACTOR_MISSING_FLAG:  # R14: only enrolment and logout until enabled
        return Caller(user_id=user_id, username=username, must_enroll_second_factor=True)
    return _caller((user_id, username), rows)


def second_factor_missing(
    user_id: ColumnElement[int] | InstrumentedAttribute[int], roles: frozenset[str]
) -> ColumnElement[bool]:
    """R14: the user (a row of the enclosing query on users) has not enabled a second factor
    but holds one of ``roles`` in an ACTIVE membership of an ACTIVE organization."""
    if not roles:
        return false()
    holds = exists().where(
        Membership.user_id == user_id,
        Membership.status == MembershipStatus.ACTIVE,
        _active_organization(Membership.organization_id),
        MembershipRole.membership_id == Membership.id,
        MembershipRole.role.in_(sorted(roles)),
    )
    return and_(User.totp_enabled_at.is_(None), holds)


@lru_cache(maxsize=8)
def _caller_statement(versioned: bool, required: frozenset[str]) -> CompoundSelect[Any]:
    """Built once per shape (our own token or an external one, the roles needing a second
    factor) and bound per request (``username``, ``version``, ``cutoff``): constructing it
    costs more than running it.

    (kind, number, text, provider id) rows: the user (with their restriction flags in the
    last column: password expired, a second factor ``required`` but missing), their roles per
    organization, their provider assignments, the client organizations of their ACTIVE agency
    grants, their health-plan roles and, for a partner client's service account, its agency's
    ACTIVE grants.

    Only ACTIVE organizations count: a master account holder has no role in an organization
    still PENDING_ACTIVATION (R1), and nobody acts in a SUSPENDED one."""
    user_id = (
        select(User.id)
        .where(
            User.username == bindparam("username"),
            User.status.in_(SIGNED_IN_STATUSES),
            # R14: a bumped version revokes our tokens; external ones carry none.
            User.token_version == bindparam("version") if versioned else true(),
        )
        .scalar_subquery()
    )
    active = and_(
        Membership.user_id == user_id,
        Membership.status == MembershipStatus.ACTIVE,
        _active_organization(Membership.organization_id),
    )
    no_number, no_text = cast(null(), Integer), cast(null(), String)
    expired = User.password_changed_at < bindparam("cutoff")
    flags: ColumnElement[int] = case((expired, PASSWORD_EXPIRED_FLAG), else_=0)
    if required:
        missing = second_factor_missing(User.id, required)
        flags = flags + case((missing, SECOND_FACTOR_MISSING_FLAG), else_=0)
    return union_all(
        select(literal("user"), User.id, User.username, flags).where(User.id == user_id),
        select(literal("role"), Membership.organization_id, MembershipRole.role, no_number)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .where(active),
        select(
            literal("assignment"),
            Membership.organization_id,
            no_text,
            ProviderAssignment.provider_id,
        )
        .join(ProviderAssignment, ProviderAssignment.membership_id == Membership.id)
        .where(active),
        _active_grant_rows()
        .join(AgencyGrantStaff, AgencyGrantStaff.grant_id == AgencyGrant.id)
        .join(
            Membership,
            (Membership.organization_id == AgencyGrant.agency_id)
            & (Membership.user_id == AgencyGrantStaff.user_id),
        )
        .where(AgencyGrantStaff.user_id == user_id, Membership.status == MembershipStatus.ACTIVE),
        select(literal("plan"), no_number, PayerRole.role, no_number).where(
            PayerRole.user_id == user_id
        ),
        *_partner_rows(user_id),
    )


CallerRow = Select[str, int, str, int]  # (kind, number, text, provider id): a caller row


def _partner_rows(user_id: ScalarSelect[int]) -> tuple[CallerRow, CallerRow]:
    """A partner client's service account (SPEC 1, R11): a "partner" row naming its agency
    (1 in the last column while that agency is ACTIVE), and a "grant" row per client
    organization whose grant to that agency is ACTIVE, exactly as for agency staff, while the
    client is not revoked."""
    no_text = cast(null(), String)
    agency_active = case((_active_organization(PartnerClient.agency_id), 1), else_=0)
    partner = select(literal("partner"), PartnerClient.agency_id, no_text, agency_active).where(
        PartnerClient.service_user_id == user_id
    )
    grants = (
        _active_grant_rows()
        .join(PartnerClient, PartnerClient.agency_id == AgencyGrant.agency_id)
        .where(PartnerClient.service_user_id == user_id, PartnerClient.revoked_at.is_(None))
    )
    return partner, grants


def _active_grant_rows() -> CallerRow:
    """("grant", client organization, -, provider) of every ACTIVE grant between ACTIVE
    organizations (a provider of null: the grant covers all of them); callers narrow it to
    whom the grants reach."""
    no_text = cast(null(), String)
    return (
        select(
            literal("grant"), AgencyGrant.organization_id, no_text, AgencyGrantProvider.provider_id
        )
        .outerjoin(AgencyGrantProvider, AgencyGrantProvider.grant_id == AgencyGrant.id)
        .where(
            AgencyGrant.status == GrantStatus.ACTIVE,
            _active_organization(AgencyGrant.organization_id),
            _active_organization(AgencyGrant.agency_id),
        )
    )


def _active_organization(org_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    return exists().where(
        Organization.id == org_id, Organization.status == OrganizationStatus.ACTIVE
    )


def _caller(user: tuple[int, str], rows: Sequence[Any]) -> Caller:
    org_roles: dict[int, set[str]] = defaultdict(set)
    providers: dict[int, set[int] | None] = defaultdict(set)
    plan_roles: set[str] = set()
    for kind, org_id, role, _ in rows:
        if kind == "role":
            org_roles[org_id].add(role)
            providers.setdefault(org_id, set())
        elif kind == "plan":
            plan_roles.add(role)
    for kind, org_id, _, provider_id in rows:
        if kind == "assignment" and (scope := providers[org_id]) is not None:
            scope.add(provider_id)
    # R11: an ACTIVE grant the caller is assigned to makes them an agency user of that client,
    # limited to the grant's providers (a grant without providers covers all of them).
    for kind, org_id, _, provider_id in rows:
        if kind != "grant":
            continue
        org_roles[org_id].add(RoleCode.AGENCY_USER)
        if provider_id is None:
            providers[org_id] = None
        elif (scope := providers[org_id]) is not None:
            scope.add(provider_id)
    return Caller(
        user_id=user[0],
        username=user[1],
        plan_roles=frozenset(plan_roles),
        org_roles={org: frozenset(roles) for org, roles in org_roles.items()},
        assigned_providers={
            org: None if ids is None else frozenset(ids) for org, ids in providers.items()
        },
        partner_client=any(row[0] == "partner" for row in rows),
    )
