"""Per-request DataLoaders: one SQL statement per batch, however many objects a page holds.

Created for each request (never shared: a cache shared between callers would leak rows
across permissions). Each batch opens its own short session, since sibling fields resolve
concurrently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Executable, and_, func, or_, select, true
from sqlalchemy.orm import aliased

from gateway.catalog import MembershipStatus, ReviewStatus, RoleCode
from gateway.data.db import Database
from gateway.data.row_scope import RowScope
from gateway.models import (
    AccessReview,
    AccessReviewItem,
    AgencyGrant,
    AgencyGrantProvider,
    AgencyGrantStaff,
    EftAccount,
    Invitation,
    Membership,
    MembershipEtool,
    MembershipRole,
    Organization,
    PartnerClient,
    Provider,
    ProviderAssignment,
    TaxId,
    User,
)

K = TypeVar("K")
V = TypeVar("V")
BatchFn = Callable[[list[K]], Coroutine[Any, Any, list[V]]]


@dataclass(frozen=True, slots=True)
class PageKey:
    """One page of an organization's children: ``first`` rows with ids after ``after``."""

    parent_id: int
    first: int
    after: int | None
    statuses: tuple[str, ...] = ()


def _loader(fn: BatchFn[K, V]) -> DataLoader[K, V]:
    return DataLoader(fn)


class Loaders:
    """The loaders of one request, bound to its database and the caller's row scope."""

    def __init__(self, db: Database, rows: RowScope) -> None:
        self.db = db
        self.rows = rows
        self.organization = _loader(self._organizations)
        self.user = _loader(self._users)
        self.provider = _loader(self._providers)
        self.tax_ids = _loader(self._tax_ids)
        self.eft_account = _loader(self._eft_accounts)
        self.member_page = _loader(self._member_pages)
        self.member_count = _loader(self._member_counts)
        self.provider_page = _loader(self._provider_pages)
        self.invitation_page = _loader(self._invitation_pages)
        self.invitation_count = _loader(self._invitation_counts)
        self.admin_count = _loader(self._admin_counts)
        self.roles = _loader(self._roles)
        self.etools = _loader(self._etools)
        self.assigned_providers = _loader(self._assigned_providers)
        self.grants_of_client = _loader(self._grants_of_clients)
        self.grants_of_agency = _loader(self._grants_of_agencies)
        self.grant_providers = _loader(self._grant_providers)
        self.grant_staff = _loader(self._grant_staff)
        self.partner_clients = _loader(self._partner_clients_of_agencies)
        self.memberships_of_user = _loader(self._memberships_of_users)
        self.open_review = _loader(self._open_reviews)
        self.last_reviewed_at = _loader(self._last_reviewed_at)
        self.review_items = _loader(self._review_items)

    async def _all(self, statement: Executable) -> Sequence[Any]:
        async with self.db.session() as session:
            rows: Sequence[Any] = (await session.execute(statement)).all()
            return rows

    async def _by_id(self, model: Any, ids: list[int]) -> list[Any]:
        rows = await self._all(select(model).where(model.id.in_(ids)))
        found = {row[0].id: row[0] for row in rows}
        return [found.get(i) for i in ids]

    async def _organizations(self, ids: list[int]) -> list[Organization | None]:
        return await self._by_id(Organization, ids)

    async def _users(self, ids: list[int]) -> list[User | None]:
        return await self._by_id(User, ids)

    async def _providers(self, ids: list[int]) -> list[Provider | None]:
        return await self._by_id(Provider, ids)

    async def _grouped(
        self,
        keys: list[int],
        statement: Executable,
        key_of: Callable[[Any], int],
        value_of: Callable[[Any], Any] = lambda row: row[0],
    ) -> list[list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in await self._all(statement):
            groups[key_of(row)].append(value_of(row))
        return [groups.get(k, []) for k in keys]

    async def _tax_ids(self, org_ids: list[int]) -> list[list[TaxId]]:
        statement = select(TaxId).where(TaxId.organization_id.in_(org_ids)).order_by(TaxId.id)
        return await self._grouped(org_ids, statement, lambda r: r[0].organization_id)

    async def _eft_accounts(self, org_ids: list[int]) -> list[EftAccount | None]:
        rows = await self._all(select(EftAccount).where(EftAccount.organization_id.in_(org_ids)))
        found = {row[0].organization_id: row[0] for row in rows}
        return [found.get(i) for i in org_ids]

    async def _member_pages(self, keys: list[PageKey]) -> list[list[Membership]]:
        return await self._pages(
            keys,
            Membership,
            Membership.organization_id,
            lambda key: [Membership.status.in_(key.statuses)] if key.statuses else [],
        )

    async def _provider_pages(self, keys: list[PageKey]) -> list[list[Provider]]:
        return await self._pages(
            keys, Provider, Provider.organization_id, lambda key: [self._provider_scope(key)]
        )

    async def _invitation_pages(self, keys: list[PageKey]) -> list[list[Invitation]]:
        return await self._pages(keys, Invitation, Invitation.organization_id, lambda key: [])

    def _provider_scope(self, key: PageKey) -> ColumnElement[bool]:
        """V4: only the providers this caller may see in that organization."""
        allowed = self.rows.providers_in(key.parent_id)
        return true() if allowed is None else Provider.id.in_(allowed)

    async def _pages(
        self,
        keys: list[PageKey],
        model: Any,
        parent: Any,
        filters: Callable[[PageKey], list[ColumnElement[bool]]],
    ) -> list[list[Any]]:
        """Pages of several parents in one statement: a window numbers each parent's rows."""
        results: dict[PageKey, list[Any]] = {}
        # Keys that differ only by parent share one statement (the common case: a list page).
        shapes: dict[tuple[int, int | None, tuple[str, ...]], list[PageKey]] = defaultdict(list)
        for key in keys:
            shapes[(key.first, key.after, key.statuses)].append(key)
        for (first, after, _), group in shapes.items():
            conditions = [or_(*(_parent_filter(parent, k, filters) for k in group))]
            if after is not None:
                conditions.append(model.id > after)
            ranked = (
                select(
                    model, func.row_number().over(partition_by=parent, order_by=model.id).label("n")
                )
                .where(*conditions)
                .subquery()
            )
            alias = aliased(model, ranked)
            statement = select(alias).where(ranked.c.n <= first + 1).order_by(ranked.c.id)
            pages = await self._grouped(
                [k.parent_id for k in group], statement, lambda r: getattr(r[0], parent.key)
            )
            results.update(zip(group, pages, strict=True))
        return [results[k] for k in keys]

    async def _member_counts(self, keys: list[tuple[int, tuple[str, ...]]]) -> list[int]:
        counts: dict[tuple[int, tuple[str, ...]], int] = {}
        for statuses in {s for _, s in keys}:
            org_ids = [o for o, s in keys if s == statuses]
            statement = (
                select(Membership.organization_id, func.count())
                .where(Membership.organization_id.in_(org_ids))
                .group_by(Membership.organization_id)
            )
            if statuses:
                statement = statement.where(Membership.status.in_(statuses))
            for org_id, count in await self._all(statement):
                counts[(org_id, statuses)] = count
        return [counts.get(k, 0) for k in keys]

    async def _invitation_counts(self, org_ids: list[int]) -> list[int]:
        """How many invitations each organization has sent (the connection's totalCount)."""
        statement = (
            select(Invitation.organization_id, func.count())
            .where(Invitation.organization_id.in_(org_ids))
            .group_by(Invitation.organization_id)
        )
        counts = {org_id: count for org_id, count in await self._all(statement)}
        return [counts.get(org_id, 0) for org_id in org_ids]

    async def _admin_counts(self, org_ids: list[int]) -> list[int]:
        """R7: active account administrators per organization."""
        statement = (
            select(Membership.organization_id, func.count())
            .join(MembershipRole, MembershipRole.membership_id == Membership.id)
            .where(
                Membership.organization_id.in_(org_ids),
                Membership.status == MembershipStatus.ACTIVE,
                MembershipRole.role == RoleCode.ACCOUNT_ADMIN,
            )
            .group_by(Membership.organization_id)
        )
        counts = {org_id: count for org_id, count in await self._all(statement)}
        return [counts.get(o, 0) for o in org_ids]

    async def _roles(self, membership_ids: list[int]) -> list[list[str]]:
        statement = (
            select(MembershipRole.membership_id, MembershipRole.role)
            .where(MembershipRole.membership_id.in_(membership_ids))
            .order_by(MembershipRole.role)
        )
        return await self._grouped(membership_ids, statement, lambda r: r[0], lambda r: r[1])

    async def _etools(self, membership_ids: list[int]) -> list[list[str]]:
        statement = (
            select(MembershipEtool.membership_id, MembershipEtool.etool)
            .where(MembershipEtool.membership_id.in_(membership_ids))
            .order_by(MembershipEtool.etool)
        )
        return await self._grouped(membership_ids, statement, lambda r: r[0], lambda r: r[1])

    async def _assigned_providers(self, membership_ids: list[int]) -> list[list[Provider]]:
        statement = (
            select(ProviderAssignment.membership_id, Provider)
            .join(Provider, Provider.id == ProviderAssignment.provider_id)
            .where(ProviderAssignment.membership_id.in_(membership_ids))
            .order_by(Provider.id)
        )
        return await self._grouped(membership_ids, statement, lambda r: r[0], lambda r: r[1])

    async def _grants_of_clients(self, org_ids: list[int]) -> list[list[AgencyGrant]]:
        statement = (
            select(AgencyGrant)
            .where(AgencyGrant.organization_id.in_(org_ids))
            .order_by(AgencyGrant.id)
        )
        return await self._grouped(org_ids, statement, lambda r: r[0].organization_id)

    async def _grants_of_agencies(self, agency_ids: list[int]) -> list[list[AgencyGrant]]:
        statement = (
            select(AgencyGrant)
            .where(AgencyGrant.agency_id.in_(agency_ids))
            .order_by(AgencyGrant.id)
        )
        return await self._grouped(agency_ids, statement, lambda r: r[0].agency_id)

    async def _partner_clients_of_agencies(
        self, agency_ids: list[int]
    ) -> list[list[PartnerClient]]:
        statement = (
            select(PartnerClient)
            .where(PartnerClient.agency_id.in_(agency_ids))
            .order_by(PartnerClient.id)
        )
        return await self._grouped(agency_ids, statement, lambda r: r[0].agency_id)

    async def _grant_providers(self, grant_ids: list[int]) -> list[list[Provider]]:
        statement = (
            select(AgencyGrantProvider.grant_id, Provider)
            .join(Provider, Provider.id == AgencyGrantProvider.provider_id)
            .where(AgencyGrantProvider.grant_id.in_(grant_ids))
            .order_by(Provider.id)
        )
        return await self._grouped(grant_ids, statement, lambda r: r[0], lambda r: r[1])

    async def _grant_staff(self, grant_ids: list[int]) -> list[list[User]]:
        statement = (
            select(AgencyGrantStaff.grant_id, User)
            .join(User, User.id == AgencyGrantStaff.user_id)
            .where(AgencyGrantStaff.grant_id.in_(grant_ids))
            .order_by(User.id)
        )
        return await self._grouped(grant_ids, statement, lambda r: r[0], lambda r: r[1])

    async def _memberships_of_users(self, user_ids: list[int]) -> list[list[Membership]]:
        """V5: only memberships the caller may know of: their own, or in organizations whose
        member list the policy lets them read."""
        statement = (
            select(Membership)
            .where(Membership.user_id.in_(user_ids), self._membership_scope())
            .order_by(Membership.id)
        )
        return await self._grouped(user_ids, statement, lambda r: r[0].user_id)

    async def _open_reviews(self, org_ids: list[int]) -> list[AccessReview | None]:
        """R12: each organization's open access review, if any."""
        statement = select(AccessReview).where(
            AccessReview.organization_id.in_(org_ids), AccessReview.status == ReviewStatus.OPEN
        )
        found = {row[0].organization_id: row[0] for row in await self._all(statement)}
        return [found.get(o) for o in org_ids]

    async def _last_reviewed_at(self, org_ids: list[int]) -> list[datetime | None]:
        """R12: when each organization last completed an access review."""
        statement = (
            select(AccessReview.organization_id, func.max(AccessReview.completed_at))
            .where(
                AccessReview.organization_id.in_(org_ids),
                AccessReview.status == ReviewStatus.COMPLETED,
            )
            .group_by(AccessReview.organization_id)
        )
        found = {org_id: at for org_id, at in await self._all(statement)}
        return [found.get(o) for o in org_ids]

    async def _review_items(
        self, review_ids: list[int]
    ) -> list[list[tuple[AccessReviewItem, Membership]]]:
        """R12: each review's items with their memberships, in membership order."""
        statement = (
            select(AccessReviewItem, Membership)
            .join(Membership, Membership.id == AccessReviewItem.membership_id)
            .where(AccessReviewItem.review_id.in_(review_ids))
            .order_by(AccessReviewItem.membership_id)
        )
        return await self._grouped(
            review_ids, statement, lambda r: r[0].review_id, lambda r: (r[0], r[1])
        )

    def _membership_scope(self) -> ColumnElement[bool]:
        reached = self.rows.memberships_in
        if reached is None:
            return true()
        return or_(
            Membership.user_id == self.rows.user_id, Membership.organization_id.in_(reached)
        )


def _parent_filter(
    parent: Any, key: PageKey, filters: Callable[[PageKey], list[ColumnElement[bool]]]
) -> ColumnElement[bool]:
    return and_(parent == key.parent_id, *filters(key))
