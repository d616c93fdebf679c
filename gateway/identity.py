"""Who is calling: bearer tokens and the caller's roles and scope, read from the database.

Roles and scope are loaded on every request and never taken from the token, so a removal
takes effect on the member's very next request (R8).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import CompoundSelect, Integer, String, and_, cast, literal, null, select, union_all

from gateway.caller import ANONYMOUS_CALLER, Caller
from gateway.catalog import GrantStatus, MembershipStatus, RoleCode, UserStatus
from gateway.db import Database
from gateway.models import (
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    Membership,
    MembershipRole,
    PayerRole,
    ProviderAssignment,
    User,
)
from gateway.settings import Settings

ALGORITHM = "HS256"
SIGNED_IN_STATUSES = (UserStatus.ACTIVE,)


def mint_token(settings: Settings, username: str, *, ttl: timedelta | None = None) -> str:
    """A development bearer token for ``username`` (``gateway token``)."""
    now = datetime.now(UTC)
    claims = {
        "sub": username,
        "iat": now,
        "exp": now + (ttl or timedelta(seconds=settings.dev_token_ttl_seconds)),
    }
    return jwt.encode(claims, settings.signing_secret, algorithm=ALGORITHM)


def username_from(authorization: str | None, settings: Settings) -> str | None:
    """The token's subject, or None for a missing, malformed, expired or forged token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    token = authorization[7:].strip()
    try:
        claims = jwt.decode(
            token,
            settings.signing_secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
            leeway=30,
        )
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


async def load_caller(db: Database, username: str | None) -> Caller:
    """The caller's identity, roles per organization and provider scope, in one statement."""
    if username is None:
        return ANONYMOUS_CALLER
    async with db.session() as session:
        rows = (await session.execute(_caller_statement(username))).all()
    users = [(number, text) for kind, number, text, _ in rows if kind == "user"]
    if not users:
        return ANONYMOUS_CALLER
    return _caller(users[0], rows)


def _caller_statement(username: str) -> CompoundSelect[Any]:
    """(kind, number, text, provider id) rows: the user, their roles per organization, their
    provider assignments, the client organizations of their ACTIVE agency grants, and their
    health-plan roles."""
    user_id = (
        select(User.id)
        .where(User.username == username, User.status.in_(SIGNED_IN_STATUSES))
        .scalar_subquery()
    )
    active = and_(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
    no_number, no_text = cast(null(), Integer), cast(null(), String)
    return union_all(
        select(literal("user"), User.id, User.username, no_number).where(User.id == user_id),
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
        select(
            literal("grant"), AgencyGrant.organization_id, no_text, AgencyGrantProvider.provider_id
        )
        .join(AgencyGrantStaff, AgencyGrantStaff.grant_id == AgencyGrant.id)
        .join(
            Membership,
            (Membership.organization_id == AgencyGrant.agency_id)
            & (Membership.user_id == AgencyGrantStaff.user_id),
        )
        .outerjoin(AgencyGrantProvider, AgencyGrantProvider.grant_id == AgencyGrant.id)
        .where(
            AgencyGrantStaff.user_id == user_id,
            AgencyGrant.status == GrantStatus.ACTIVE,
            Membership.status == MembershipStatus.ACTIVE,
        ),
        select(literal("plan"), no_number, PayerRole.role, no_number).where(
            PayerRole.user_id == user_id
        ),
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
        provider_scope={
            org: None if ids is None else frozenset(ids) for org, ids in providers.items()
        },
    )
