"""Where each compiled type's values live: its table, columns, scope and relations.

A type or field missing here is not compiled: an operation selecting it runs through the
resolvers. Each entry says in SQL what the resolver and the type's ``@scoped`` declaration say
in Python (the differential test holds the two to the same answers):

- ``Table.orgs``/``owner``: the columns that ``@scoped(organizations=..., owner=...)`` names.
  A type seen through its parent (a user through a membership) takes them from the relation.
- ``Relation.where``: the resolver's filter, row scope (V1, V4, V5) included; ``{p}`` is the
  parent row, ``{c}`` the child row.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.authz import Kind

VALUE, DATETIME = Kind.VALUE, Kind.DATETIME


@dataclass(frozen=True, slots=True)
class Table:
    """An object type read from one table row (``{c}``)."""

    name: str
    columns: dict[str, tuple[str, Kind]]  # schema field -> (column, VALUE or DATETIME)
    id: str | None = "id"  # the column that names the object in the log (None: nothing)
    orgs: tuple[str, ...] = ()  # SQL over {c}: the organizations it is seen in
    owner: str | None = None  # SQL over {c}: the user whose own object it is


def _scalars(**columns: str | tuple[str, Kind]) -> dict[str, tuple[str, Kind]]:
    return {
        name: (column, VALUE) if isinstance(column, str) else column
        for name, column in columns.items()
    }


TABLES: dict[str, Table] = {
    "Organization": Table(
        "organizations",
        _scalars(
            id="id", name="name", kind="kind", providerId="provider_id", npi="npi", status="status"
        ),
        orgs=("{c}.id",),
    ),
    "BillingAgency": Table(
        "organizations", _scalars(id="id", name="name", providerId="provider_id"), orgs=("{c}.id",)
    ),
    "Address": Table(
        "organizations",
        _scalars(
            line1="address_line1",
            line2="address_line2",
            city="address_city",
            state="address_state",
            zip="address_zip",
        ),
        id=None,
        orgs=("{c}.id",),
    ),
    "TaxId": Table("tax_ids", _scalars(id="id", tin="tin"), orgs=("{c}.organization_id",)),
    "EftAccount": Table(
        "eft_accounts",
        _scalars(
            id="organization_id",
            bankName="bank_name",
            routingNumber="routing_number",
            accountNumber="account_number",
        ),
        id="organization_id",
        orgs=("{c}.organization_id",),
    ),
    "Provider": Table(
        "providers",
        _scalars(id="id", npi="npi", name="name", specialty="specialty", deaNumber="dea_number"),
    ),
    "Membership": Table(
        "memberships",
        _scalars(
            id="id",
            status="status",
            employment="employment",
            approvedAt=("approved_at", DATETIME),
            createdAt=("created_at", DATETIME),
        ),
        orgs=("{c}.organization_id",),
        owner="{c}.user_id",
    ),
    "User": Table(
        "users",
        _scalars(
            id="id",
            username="username",
            name="name",
            email="email",
            phone="phone",
            status="status",
            lastLoginAt=("last_login_at", DATETIME),
            createdAt=("created_at", DATETIME),
        ),
        owner="{c}.id",
    ),
    "PartnerClient": Table(
        "partner_clients",
        _scalars(
            clientId="client_id",
            name="name",
            createdAt=("created_at", DATETIME),
            secretRotatedAt=("secret_rotated_at", DATETIME),
            lastUsedAt=("last_used_at", DATETIME),
            revokedAt=("revoked_at", DATETIME),
        ),
        id="client_id",
        orgs=("{c}.agency_id",),
    ),
    "AgencyGrant": Table(
        "agency_grants",
        _scalars(
            id="id",
            status="status",
            createdAt=("created_at", DATETIME),
            decidedAt=("decided_at", DATETIME),
        ),
        orgs=("{c}.organization_id", "{c}.agency_id"),
    ),
}


class Scope:
    """Row scope (V1, V4, V5) as SQL conditions, given a statement's parameters."""

    VISIBLE = "visible"  # V1: organizations the caller sees
    PROVIDERS = "providers"  # V4: providers the caller sees in their organization
    MEMBERSHIPS = "memberships"  # V5: memberships the caller may know of


@dataclass(frozen=True, slots=True)
class Relation:
    """A field whose value is other rows: ``SELECT * FROM {table} {c} WHERE {where}``.

    ``kind``: OBJECT (one row or none), LIST, CONNECTION (a page and, if ``counted``, its
    total) or CATALOG (codes from ``column``, ordered by it). ``orgs``: the child's
    organizations when the parent decides them (SQL over {p} and {c}); None: the child
    table's own. ``inline``: the child is the parent row itself (an address)."""

    kind: Kind
    child: str
    table: str = ""
    where: str = ""
    order: str = "id"
    scope: str | None = None  # a Scope condition on the child rows
    orgs: tuple[str, ...] | None = None
    column: str = ""  # CATALOG: the code column
    statuses: tuple[str, ...] | None = None  # members: the statuses without an argument
    status_argument: bool = False  # members(status:) narrows the statuses
    counted: bool = False
    inline: bool = False
    expression: str = ""  # a value computed from the parent row (SQL over {p})


OBJECT, LIST, CONNECTION, CATALOG = Kind.OBJECT, Kind.LIST, Kind.CONNECTION, Kind.CATALOG
PARENT_ORG = ("{p}.organization_id",)

RELATIONS: dict[tuple[str, str], Relation] = {
    ("Organization", "correspondenceAddress"): Relation(OBJECT, "Address", inline=True),
    ("Organization", "taxIds"): Relation(LIST, "TaxId", "tax_ids", "{c}.organization_id = {p}.id"),
    ("Organization", "eftAccount"): Relation(
        OBJECT, "EftAccount", "eft_accounts", "{c}.organization_id = {p}.id"
    ),
    ("Organization", "providers"): Relation(
        CONNECTION,
        "Provider",
        "providers",
        "{c}.organization_id = {p}.id",
        scope=Scope.PROVIDERS,
        orgs=("{p}.id",),
    ),
    ("Organization", "members"): Relation(
        CONNECTION,
        "Membership",
        "memberships",
        "{c}.organization_id = {p}.id",
        statuses=("ACTIVE",),
        status_argument=True,
        counted=True,
    ),
    ("Organization", "accessRequests"): Relation(
        CONNECTION,
        "Membership",
        "memberships",
        "{c}.organization_id = {p}.id",
        statuses=("REQUESTED",),
        counted=True,
    ),
    ("Organization", "agencyGrants"): Relation(
        LIST, "AgencyGrant", "agency_grants", "{c}.organization_id = {p}.id"
    ),
    ("Organization", "clientGrants"): Relation(
        LIST, "AgencyGrant", "agency_grants", "{c}.agency_id = {p}.id"
    ),
    ("Organization", "partnerClients"): Relation(
        LIST, "PartnerClient", "partner_clients", "{c}.agency_id = {p}.id"
    ),
    # R7: exactly one active account administrator.
    ("Organization", "hasSingleAdmin"): Relation(
        VALUE,
        "Boolean",
        expression="(SELECT count(*) FROM memberships m JOIN membership_roles r "
        "ON r.membership_id = m.id WHERE m.organization_id = {p}.id AND m.status = 'ACTIVE' "
        "AND r.role = 'ACCOUNT_ADMIN') = 1",
    ),
    # R12: when the last access review was completed.
    ("Organization", "lastReviewedAt"): Relation(
        DATETIME,
        "DateTime",
        expression="SELECT max(r.completed_at) FROM access_reviews r "
        "WHERE r.organization_id = {p}.id AND r.status = 'COMPLETED'",
    ),
    ("Membership", "organization"): Relation(
        OBJECT, "Organization", "organizations", "{c}.id = {p}.organization_id"
    ),
    ("Membership", "user"): Relation(
        OBJECT, "User", "users", "{c}.id = {p}.user_id", orgs=PARENT_ORG
    ),
    ("Membership", "approvedBy"): Relation(
        OBJECT, "User", "users", "{c}.id = {p}.approved_by_id", orgs=PARENT_ORG
    ),
    ("Membership", "roles"): Relation(
        CATALOG,
        "Role",
        "membership_roles",
        "{c}.membership_id = {p}.id",
        order="role",
        column="role",
    ),
    ("Membership", "etools"): Relation(
        CATALOG,
        "ETool",
        "membership_etools",
        "{c}.membership_id = {p}.id",
        order="etool",
        column="etool",
    ),
    ("Membership", "providers"): Relation(
        LIST,
        "Provider",
        "providers",
        "{c}.id IN (SELECT provider_id FROM provider_assignments WHERE membership_id = {p}.id)",
        orgs=PARENT_ORG,
    ),
    ("User", "memberships"): Relation(
        LIST, "Membership", "memberships", "{c}.user_id = {p}.id", scope=Scope.MEMBERSHIPS
    ),
    ("AgencyGrant", "organization"): Relation(
        OBJECT, "Organization", "organizations", "{c}.id = {p}.organization_id"
    ),
    ("AgencyGrant", "agency"): Relation(
        OBJECT, "BillingAgency", "organizations", "{c}.id = {p}.agency_id"
    ),
    ("AgencyGrant", "providers"): Relation(
        LIST,
        "Provider",
        "providers",
        "{c}.id IN (SELECT provider_id FROM agency_grant_providers WHERE grant_id = {p}.id)",
        orgs=PARENT_ORG,
    ),
    # Agency staff are seen as the agency's people (the grant is what the client sees).
    ("AgencyGrant", "staff"): Relation(
        LIST,
        "User",
        "users",
        "{c}.id IN (SELECT user_id FROM agency_grant_staff WHERE grant_id = {p}.id)",
        orgs=("{p}.agency_id",),
    ),
}

@dataclass(frozen=True, slots=True)
class RootField:
    """A root field: how its row (or page) is found; {c} is the root row."""

    kind: Kind  # OBJECT (by id or the caller), CONNECTION, or CATALOG (the whole catalog)
    child: str
    table: str = ""
    where: str = "TRUE"
    scope: str | None = None
    by: str | None = None  # OBJECT: "id" (the argument) or "caller"
    missing: str | None = None  # OBJECT by id: the NOT_FOUND message
    orgs: tuple[str, ...] | None = None


ROOTS: dict[str, RootField] = {
    "organization": RootField(
        OBJECT,
        "Organization",
        "organizations",
        scope=Scope.VISIBLE,
        by="id",
        missing="Organization not found",
    ),
    "organizations": RootField(CONNECTION, "Organization", "organizations", scope=Scope.VISIBLE),
    "billingAgencies": RootField(
        CONNECTION, "BillingAgency", "organizations", "{c}.kind = 'BILLING_AGENCY'"
    ),
    "me": RootField(OBJECT, "User", "users", by="caller", orgs=()),
    "roles": RootField(CATALOG, "Role"),
    "etools": RootField(CATALOG, "ETool"),
}
