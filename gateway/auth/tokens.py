"""Who is calling: bearer tokens and the caller's roles and scope, read from the database.

Roles and scope are loaded on every request and never taken from the token, so a removal
takes effect on the member's very next request (R8). A token also names the user's
``token_version`` (claim ``ver``): signing out, changing the password and a lockout bump the
version, so every token issued before stops working at once (R14). The version is checked in
the same single statement that loads the caller.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    ScalarSelect,
    Select,
    String,
    and_,
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

from gateway.authz.scope import ANONYMOUS_CALLER, Caller
from gateway.catalog import GrantStatus, MembershipStatus, OrganizationStatus, RoleCode, UserStatus
from gateway.data.db import Database
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

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "ver"]
SIGNED_IN_STATUSES = (UserStatus.ACTIVE,)
MAX_SUBJECT = 64  # a username's longest; a longer subject is logged cut to this
# A1: why a token was refused, as the access log says it (never the token itself).
REFUSALS: dict[type[jwt.PyJWTError], str] = {
    jwt.InvalidAlgorithmError: "algorithm not allowed",
    jwt.InvalidSignatureError: "bad signature",
    jwt.MissingRequiredClaimError: "missing claim",
    jwt.ImmatureSignatureError: "not yet valid",
}
REVOKED = "revoked (signed out, password changed or account locked) or account not active"
PARTNER_ONLY = "revoked, not active, or not a partner client (beside the OIDC provider)"
# Bits of the caller statement's user row (R14): what restricts the session.
PASSWORD_EXPIRED_FLAG, SECOND_FACTOR_MISSING_FLAG = 1, 2


@dataclass(frozen=True, slots=True)
class Bearer:
    """What a request's ``Authorization`` header presented."""

    subject: str | None  # the claimed username; None unless the signature verified
    version: int | None = None  # the ``ver`` claim; None for an external (OIDC) token
    refusal: str | None = None  # why the token may not be used (A1: logged), None if it may
    # The gateway's own token beside an OIDC provider: people sign in at the provider, so only
    # a partner client's service account may use it.
    partner_only: bool = False


def mint_token(
    settings: Settings,
    username: str,
    *,
    version: int = 0,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """A bearer token for ``username`` whose ``token_version`` is ``version`` (0 until their
    first sign-out, password change or lockout). ``gateway token`` and sign-in mint with this."""
    issued = now or datetime.now(UTC)
    claims = {
        "iss": settings.token_issuer,  # tells the gateway's tokens from an OIDC provider's
        "sub": username,
        "ver": version,
        "iat": issued,
        "exp": issued + (ttl or timedelta(seconds=settings.dev_token_ttl_seconds)),
    }
    return jwt.encode(claims, settings.signing_secret, algorithm=ALGORITHM)


async def current_version(settings: Settings, username: str) -> int | None:
    """The user's token version, to mint a development token that sign-out also revokes."""
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            version: int | None = await session.scalar(
                select(User.token_version).where(User.username == username)
            )
    finally:
        await db.dispose()
    return version


def access_token(
    settings: Settings, username: str, version: int, now: datetime
) -> tuple[str, datetime]:
    """A signed-in session's access token and its expiry: it lives as long as a session may
    stay idle (R14, HIPAA automatic logoff)."""
    ttl = timedelta(minutes=settings.session_idle_minutes)
    issued = now.replace(microsecond=0)  # JWT times are whole seconds: expiresAt is exp
    return mint_token(settings, username, version=version, ttl=ttl, now=issued), issued + ttl


def read_bearer(authorization: str | None, settings: Settings) -> Bearer | None:
    """The bearer token's claims, or why it is refused; None without a bearer token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    if not signs_own_tokens(settings):
        return Bearer(None, refusal="the gateway's own tokens are not accepted here")
    token = authorization[7:].strip()
    try:
        claims = _decode(token, settings)
    except jwt.ExpiredSignatureError:
        return Bearer(_subject_of_expired(token, settings), refusal="expired")
    except jwt.PyJWTError as error:
        return Bearer(None, refusal=REFUSALS.get(type(error), "malformed"))
    if claims.get("iss", settings.token_issuer) != settings.token_issuer:
        return Bearer(None, refusal="wrong issuer")
    subject, version = claims.get("sub"), claims.get("ver")
    if not isinstance(subject, str) or type(version) is not int:
        return Bearer(None, refusal="malformed claims")
    return Bearer(subject, version)


def signs_own_tokens(settings: Settings) -> bool:
    """Whether the gateway issues and accepts tokens of its own (HS256). Beside an OIDC
    provider only with a secret of its own: never with the well-known development one."""
    return bool(settings.jwt_secret) or (settings.is_development and not settings.jwks_url)


def issued_here(authorization: str | None, settings: Settings) -> bool:
    """Whether the bearer token *claims* the gateway as its issuer (unverified: it only picks
    which verification path checks it, and each path pins its own algorithms)."""
    token = (authorization or "")[7:].strip()
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return False
    return bool(issuer == settings.token_issuer)


def _decode(token: str, settings: Settings, *, verify_exp: bool = True) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        settings.signing_secret,
        algorithms=[ALGORITHM],  # never "none", never a key-confusion algorithm
        options={"require": REQUIRED_CLAIMS, "verify_exp": verify_exp},
        leeway=30,
    )
    return claims


def _subject_of_expired(token: str, settings: Settings) -> str | None:
    """Whose expired token it was: the signature still verifies, so the subject is ours."""
    try:
        subject = _decode(token, settings, verify_exp=False).get("sub")
    except jwt.PyJWTError:
        return None
    return subject[:MAX_SUBJECT] if isinstance(subject, str) else None


def token_refusal(bearer: Bearer | None, caller: Caller) -> Bearer | None:
    """The presented token if it was refused, with why (A1: the refusal is logged)."""
    if bearer is None or caller.is_authenticated:
        return None
    if bearer.refusal is None:  # well signed, but the database knows no such signed-in user
        refusal = PARTNER_ONLY if bearer.partner_only else REVOKED
        return replace(bearer, subject=(bearer.subject or "")[:MAX_SUBJECT], refusal=refusal)
    return bearer


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
    async with db.session() as session:
        statement = _caller_statement(bearer.subject, bearer.version, cutoff, required)
        rows = (await session.execute(statement)).all()
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


def _caller_statement(
    username: str, version: int | None, cutoff: datetime, required: frozenset[str]
) -> CompoundSelect[Any]:
    """(kind, number, text, provider id) rows: the user (with their restriction flags in the
    last column: password expired, a second factor ``required`` but missing), their roles per
    organization, their provider assignments, the client organizations of their ACTIVE agency
    grants, their health-plan roles and, for a partner client's service account, its agency's
    ACTIVE grants.

    Only ACTIVE organizations count: a master account holder has no role in an organization
    still PENDING_ACTIVATION (R1), and nobody acts in a SUSPENDED one."""
    user_id = (
        select(User.id)
        .where(
            User.username == username,
            User.status.in_(SIGNED_IN_STATUSES),
            # R14: a bumped version revokes our tokens; external ones carry none.
            true() if version is None else User.token_version == version,
        )
        .scalar_subquery()
    )
    active = and_(
        Membership.user_id == user_id,
        Membership.status == MembershipStatus.ACTIVE,
        _active_organization(Membership.organization_id),
    )
    no_number, no_text = cast(null(), Integer), cast(null(), String)
    expired = User.password_changed_at < cutoff
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
        provider_scope={
            org: None if ids is None else frozenset(ids) for org, ids in providers.items()
        },
        partner_client=any(row[0] == "partner" for row in rows),
    )
