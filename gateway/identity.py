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
from sqlalchemy import select

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
    """The caller's identity, roles per organization and provider scope."""
    if username is None:
        return ANONYMOUS_CALLER
    async with db.session() as session:
        user = await session.scalar(
            select(User).where(User.username == username, User.status.in_(SIGNED_IN_STATUSES))
        )
        if user is None:
            return ANONYMOUS_CALLER
        memberships = (
            await session.execute(
                select(Membership.id, Membership.organization_id, MembershipRole.role)
                .join(MembershipRole, MembershipRole.membership_id == Membership.id)
                .where(Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE)
            )
        ).all()
        assignments = (
            await session.execute(
                select(Membership.organization_id, ProviderAssignment.provider_id)
                .join(ProviderAssignment, ProviderAssignment.membership_id == Membership.id)
                .where(Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE)
            )
        ).all()
        grants = (
            await session.execute(
                select(AgencyGrant.organization_id, AgencyGrantProvider.provider_id)
                .join(AgencyGrantStaff, AgencyGrantStaff.grant_id == AgencyGrant.id)
                .join(
                    Membership,
                    (Membership.organization_id == AgencyGrant.agency_id)
                    & (Membership.user_id == AgencyGrantStaff.user_id),
                )
                .outerjoin(AgencyGrantProvider, AgencyGrantProvider.grant_id == AgencyGrant.id)
                .where(
                    AgencyGrantStaff.user_id == user.id,
                    AgencyGrant.status == GrantStatus.ACTIVE,
                    Membership.status == MembershipStatus.ACTIVE,
                )
            )
        ).all()
        plan_roles = (
            await session.scalars(select(PayerRole.role).where(PayerRole.user_id == user.id))
        ).all()
    return _caller(user, memberships, assignments, grants, plan_roles)


def _caller(
    user: User,
    memberships: Sequence[Any],
    assignments: Sequence[Any],
    grants: Sequence[Any],
    plan_roles: Sequence[str],
) -> Caller:
    org_roles: dict[int, set[str]] = defaultdict(set)
    providers: dict[int, set[int] | None] = defaultdict(set)
    for _, org_id, role in memberships:
        org_roles[org_id].add(role)
        providers.setdefault(org_id, set())
    for org_id, provider_id in assignments:
        scope = providers[org_id]
        if scope is not None:
            scope.add(provider_id)
    # R11: an ACTIVE grant the caller is assigned to makes them an agency user of that client,
    # limited to the grant's providers (a grant without providers covers all of them).
    for org_id, provider_id in grants:
        org_roles[org_id].add(RoleCode.AGENCY_USER)
        if provider_id is None:
            providers[org_id] = None
        elif (scope := providers[org_id]) is not None:
            scope.add(provider_id)
    return Caller(
        user_id=user.id,
        username=user.username,
        plan_roles=frozenset(plan_roles),
        org_roles={org: frozenset(roles) for org, roles in org_roles.items()},
        provider_scope={
            org: None if ids is None else frozenset(ids) for org, ids in providers.items()
        },
    )
