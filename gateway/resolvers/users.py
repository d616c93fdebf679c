"""Reads of users and memberships (V5: a user's other organizations stay hidden)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog import MembershipStatus
from gateway.context import Context
from gateway.data import PageRequest, parse_id
from gateway.errors import BadUserInput, NotFound
from gateway.models import Membership, Organization, Provider, User

# The help desk's search text, in characters: 2 finds short surnames (Li, Ng); 64 is what the
# access log keeps of a root field's argument, so the log names the whole search.
SEARCH_MIN, SEARCH_MAX = 2, 64


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
        shared = await _shared_organizations(session, (user_id,), context.rows.held)
        return row, shared.get(user_id, ())


@dataclass(frozen=True, slots=True)
class FoundUsers:
    """A page of the help desk's search, the count of all matches, and for each user found the
    organizations through which the caller sees them (those they share with the caller)."""

    rows: Sequence[User]
    total: int
    seen_in: Mapping[int, tuple[int, ...]]


async def search(context: Context, text: str, page: PageRequest) -> FoundUsers:
    """Users whose username, email, name or organization contains ``text`` (any case), by id.

    A substring, not a prefix: the help desk types what a caller says, often a surname ("smith"
    in "Ada Smith"), a mail domain or part of an office's name. A prefix could use an index; a
    substring scans, which a help desk's occasional lookup affords (the text is at least
    ``SEARCH_MIN`` characters). No match is an empty page, shaped like any other."""
    statement = select(User).where(_reachable(context), _matching(search_text(text)))
    async with context.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = (await session.scalars(_paged(statement, page))).all()
        shared = await _shared_organizations(session, [r.id for r in rows], context.rows.held)
    return FoundUsers(rows, total or 0, shared)


def search_text(raw: str) -> str:
    """The text to look for, trimmed: ``SEARCH_MIN`` to ``SEARCH_MAX`` characters."""
    text = raw.strip()
    if len(raw) > SEARCH_MAX or len(text) < SEARCH_MIN:
        raise BadUserInput(
            f"`search` must be {SEARCH_MIN} to {SEARCH_MAX} characters",
            argument="search",
            minimum=SEARCH_MIN,
            maximum=SEARCH_MAX,
        )
    return text


def _matching(text: str) -> ColumnElement[bool]:
    """Case-insensitive substring of the username, email or name, or of the name of an
    organization the user is an active member of (wildcards in ``text`` match themselves)."""
    pattern = text.lower()
    member_of = exists().where(
        Membership.user_id == User.id,
        Membership.status == MembershipStatus.ACTIVE,
        Organization.id == Membership.organization_id,
        func.lower(Organization.name).contains(pattern, autoescape=True),
    )
    return or_(
        func.lower(User.username).contains(pattern, autoescape=True),
        func.lower(User.email).contains(pattern, autoescape=True),
        func.lower(User.name).contains(pattern, autoescape=True),
        member_of,
    )


def _paged(statement: Select[User], page: PageRequest) -> Select[User]:
    if page.after is not None:
        statement = statement.where(User.id > page.after)
    return statement.order_by(User.id).limit(page.first + 1)


async def _shared_organizations(
    session: AsyncSession, user_ids: Collection[int], held: frozenset[int]
) -> dict[int, tuple[int, ...]]:
    """Per user: the organizations they are an active member of in which the caller holds a
    role, whose roles then decide what the caller sees of them."""
    if not user_ids or not held:
        return {}
    rows = await session.execute(
        select(Membership.user_id, Membership.organization_id)
        .where(
            Membership.user_id.in_(user_ids),
            Membership.status == MembershipStatus.ACTIVE,
            Membership.organization_id.in_(held),
        )
        .order_by(Membership.organization_id)
    )
    shared: dict[int, list[int]] = defaultdict(list)
    for user_id, org_id in rows:
        shared[user_id].append(org_id)
    return {user_id: tuple(org_ids) for user_id, org_ids in shared.items()}


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
