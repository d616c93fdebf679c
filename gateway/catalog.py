"""The fixed vocabularies of the domain (SPEC section 2): kinds, statuses, roles and eTools."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrganizationKind(StrEnum):
    INDIVIDUAL_PRACTICE = "INDIVIDUAL_PRACTICE"
    GROUP_PRACTICE = "GROUP_PRACTICE"
    FACILITY = "FACILITY"
    HOSPITAL = "HOSPITAL"
    DENTAL = "DENTAL"
    CHIROPRACTIC = "CHIROPRACTIC"
    BILLING_AGENCY = "BILLING_AGENCY"


class OrganizationStatus(StrEnum):
    PENDING_ACTIVATION = "PENDING_ACTIVATION"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class UserStatus(StrEnum):
    INVITED = "INVITED"
    PENDING_ACTIVATION = "PENDING_ACTIVATION"
    ACTIVE = "ACTIVE"
    LOCKED = "LOCKED"
    DEACTIVATED = "DEACTIVATED"


class MembershipStatus(StrEnum):
    REQUESTED = "REQUESTED"
    ACTIVE = "ACTIVE"
    DENIED = "DENIED"
    REMOVED = "REMOVED"


class Employment(StrEnum):
    EMPLOYEE = "EMPLOYEE"
    THIRD_PARTY = "THIRD_PARTY"


class GrantStatus(StrEnum):
    REQUESTED = "REQUESTED"
    ACTIVE = "ACTIVE"
    DECLINED = "DECLINED"  # R11: the agency's admin said no (REVOKED: the client said no)
    REVOKED = "REVOKED"


class ReviewStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"  # R15: the deadline passed before every member was decided


class ReviewDecision(StrEnum):
    KEEP = "KEEP"
    REMOVE = "REMOVE"


class RoleScope(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    HEALTH_PLAN = "HEALTH_PLAN"


class RoleCode(StrEnum):
    ACCOUNT_ADMIN = "ACCOUNT_ADMIN"
    OFFICE_MANAGER = "OFFICE_MANAGER"
    FINANCIAL_MANAGER = "FINANCIAL_MANAGER"
    PROVIDER = "PROVIDER"
    CLINICAL_STAFF = "CLINICAL_STAFF"
    STAFF = "STAFF"
    AGENCY_ADMIN = "AGENCY_ADMIN"
    AGENCY_USER = "AGENCY_USER"
    PAYER_AUDITOR = "PAYER_AUDITOR"
    PAYER_SUPPORT = "PAYER_SUPPORT"
    SECURITY_OFFICER = "SECURITY_OFFICER"


class EToolCode(StrEnum):
    ONLINE_SERVICES = "ONLINE_SERVICES"
    CONNECT_CENTER = "CONNECT_CENTER"
    AUTHORIZATION_MANAGER = "AUTHORIZATION_MANAGER"
    CARELON = "CARELON"
    AIM_SPECIALTY_HEALTH = "AIM_SPECIALTY_HEALTH"
    CHIROPRACTIC_AUTH = "CHIROPRACTIC_AUTH"


@dataclass(frozen=True, slots=True)
class RoleInfo:
    code: RoleCode
    name: str
    description: str
    scope: RoleScope
    employee_only: bool  # R4


@dataclass(frozen=True, slots=True)
class EToolInfo:
    code: EToolCode
    name: str
    description: str
    organization_kinds: frozenset[OrganizationKind] | None  # None: every kind (R9)


_ORG, _PLAN = RoleScope.ORGANIZATION, RoleScope.HEALTH_PLAN

ROLES: tuple[RoleInfo, ...] = (
    RoleInfo(
        RoleCode.ACCOUNT_ADMIN,
        "Account administrator",
        "Administers the organization's account: members, roles, eTools, providers, "
        "tax IDs and billing agencies (not the EFT account).",
        _ORG,
        True,
    ),
    RoleInfo(
        RoleCode.OFFICE_MANAGER,
        "Office manager",
        "Manages staff access: invites, approves, denies and removes non-admin users.",
        _ORG,
        True,
    ),
    RoleInfo(
        RoleCode.FINANCIAL_MANAGER,
        "Financial manager",
        "EFT authority: reads and changes the EFT account, reads tax IDs.",
        _ORG,
        True,
    ),
    RoleInfo(
        RoleCode.PROVIDER,
        "Provider",
        "A practitioner: own profile and assigned providers' data.",
        _ORG,
        False,
    ),
    RoleInfo(
        RoleCode.CLINICAL_STAFF,
        "Clinical staff",
        "Assigned providers' data including clinical fields.",
        _ORG,
        False,
    ),
    RoleInfo(
        RoleCode.STAFF, "Office staff", "Assigned providers' administrative data.", _ORG, False
    ),
    RoleInfo(
        RoleCode.AGENCY_ADMIN,
        "Billing agency administrator",
        "Accepts or declines client invitations and assigns agency staff to clients.",
        _ORG,
        False,
    ),
    RoleInfo(
        RoleCode.AGENCY_USER,
        "Billing agency user",
        "Acts for client organizations that granted the agency, within the grant.",
        _ORG,
        False,
    ),
    RoleInfo(
        RoleCode.PAYER_AUDITOR,
        "Health-plan auditor",
        "Reads all accounts for compliance audits; personal contact data masked.",
        _PLAN,
        False,
    ),
    RoleInfo(
        RoleCode.PAYER_SUPPORT,
        "Health-plan help desk",
        "Looks up users, unlocks them, resends activation; no EFT, no full TIN.",
        _PLAN,
        False,
    ),
    RoleInfo(
        RoleCode.SECURITY_OFFICER,
        "Security officer",
        "Reads the access log everywhere.",
        _PLAN,
        False,
    ),
)

ETOOLS: tuple[EToolInfo, ...] = (
    EToolInfo(
        EToolCode.ONLINE_SERVICES,
        "Online Services",
        "Eligibility, benefits and claim status.",
        None,
    ),
    EToolInfo(
        EToolCode.CONNECT_CENTER,
        "ConnectCenter",
        "Real-time transactions and 1500 claim submission.",
        None,
    ),
    EToolInfo(
        EToolCode.AUTHORIZATION_MANAGER,
        "Authorization Manager",
        "Entering and reviewing authorization requests and referrals.",
        None,
    ),
    EToolInfo(
        EToolCode.CARELON,
        "Carelon",
        "Authorizations for genetic tests, high-tech radiology, outpatient cancer care "
        "and sleep management.",
        None,
    ),
    EToolInfo(
        EToolCode.AIM_SPECIALTY_HEALTH,
        "AIM Specialty Health",
        "Specialty utilization management.",
        None,
    ),
    EToolInfo(
        EToolCode.CHIROPRACTIC_AUTH,
        "Chiropractic authorization tool",
        "Chiropractic authorizations (chiropractic offices only).",
        frozenset({OrganizationKind.CHIROPRACTIC}),
    ),
)

ROLE_BY_CODE = {role.code: role for role in ROLES}
ETOOL_BY_CODE = {tool.code: tool for tool in ETOOLS}
ORGANIZATION_ROLES = frozenset(r.code for r in ROLES if r.scope is RoleScope.ORGANIZATION)
HEALTH_PLAN_ROLES = frozenset(r.code for r in ROLES if r.scope is RoleScope.HEALTH_PLAN)
