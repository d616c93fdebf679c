"""Reads of users and memberships (V5: a user's other organizations stay hidden)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true

from gateway.catalog import MembershipStatus
from gateway.context import Context
from gateway.data import parse_id
from gateway.errors import NotFound
from gateway.models import Membership, Organization, Provider, User


def _reachable(context: Context) -> ColumnElement[bool]:
    """Users the caller may look up: themselves, or members of an org whose roster they read."""
    reached = context.rows.users_in
    if reached is None:
        return true()
    shared = exists().where(
        Membership.user_id == User.id,
        Membership.status == MembershipStatus.ACTIVE,
        Membership.organization_id.in_(reached),
    )
    return or_(User.id == context.caller.user_id, shared)


async def user(context: Context, raw_id: str) -> tuple[User, tuple[int, ...]]:
    """The user and the organizations through which the caller sees them."""
    user_id = parse_id(raw_id, "User")
    async with context.db.session() as session:
        row = await session.scalar(select(User).where(User.id == user_id, _reachable(context)))
        if row is None:
            raise NotFound("User not found")
        shared = await session.scalars(
            select(Membership.organization_id).where(
                Membership.user_id == user_id,
                Membership.status == MembershipStatus.ACTIVE,
                Membership.organization_id.in_(context.rows.held),
            )
        )
        return row, tuple(sorted(shared))


async def me(context: Context) -> User | None:
    if context.caller.user_id is None:
        return None
    result: User | None = await context.loaders.user.load(context.caller.user_id)
    return result


async def by_id(context: Context, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    result: User | None = await context.loaders.user.load(user_id)
    return result


async def memberships(context: Context, user_id: int) -> list[Membership]:
    result: list[Membership] = await context.loaders.memberships_of_user.load(user_id)
    return result


async def organization_of(context: Context, org_id: int) -> Organization:
    row: Organization | None = await context.loaders.organization.load(org_id)
    assert row is not None  # memberships and grants reference existing organizations
    return row


async def roles(context: Context, membership_id: int) -> list[str]:
    result: list[str] = await context.loaders.roles.load(membership_id)
    return result


async def etools(context: Context, membership_id: int) -> list[str]:
    result: list[str] = await context.loaders.etools.load(membership_id)
    return result


async def assigned_providers(context: Context, membership_id: int) -> list[Provider]:
    result: list[Provider] = await context.loaders.assigned_providers.load(membership_id)
    return result
