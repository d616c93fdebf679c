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
from gateway.models.credentials import (
    ActivationCode,
    PartnerClient,
    PasswordRecovery,
    RefreshToken,
)
from gateway.models.invitations import Invitation
from gateway.models.organizations import EftAccount, Organization, Provider, TaxId
from gateway.models.outbox import OutboxMessage
from gateway.models.registry import RegisteredTin
from gateway.models.reviews import AccessReview, AccessReviewItem

__all__ = [
    "AccessLogEntry",
    "AccessLogHead",
    "AccessLogRequest",
    "AccessReview",
    "AccessReviewItem",
    "ActivationCode",
    "AgencyGrant",
    "AgencyGrantProvider",
    "AgencyGrantStaff",
    "Base",
    "EftAccount",
    "Invitation",
    "Membership",
    "MembershipEtool",
    "MembershipRole",
    "Organization",
    "OutboxMessage",
    "PartnerClient",
    "PasswordRecovery",
    "PayerRole",
    "Provider",
    "ProviderAssignment",
    "RefreshToken",
    "RegisteredTin",
    "TaxId",
    "User",
    "utcnow",
]
