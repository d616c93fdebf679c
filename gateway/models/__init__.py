"""The tables of SPEC section 2, in SQLAlchemy 2 declarative form."""

from gateway.models.access_log import AccessLogEntry, AccessLogHead, AccessLogRequest
from gateway.models.accounts import (
    Membership,
    MembershipEtool,
    MembershipRole,
    PayerRole,
    ProviderAssignment,
    User,
)
from gateway.models.agencies import AgencyGrant, AgencyGrantProvider, AgencyGrantStaff
from gateway.models.base import Base, utcnow
from gateway.models.organizations import EftAccount, Organization, Provider, TaxId

__all__ = [
    "AccessLogEntry",
    "AccessLogHead",
    "AccessLogRequest",
    "AgencyGrant",
    "AgencyGrantProvider",
    "AgencyGrantStaff",
    "Base",
    "EftAccount",
    "Membership",
    "MembershipEtool",
    "MembershipRole",
    "Organization",
    "PayerRole",
    "Provider",
    "ProviderAssignment",
    "TaxId",
    "User",
    "utcnow",
]
