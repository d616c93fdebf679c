"""Emails and letters link to the portal front-end (GATEWAY_PORTAL_URL), never to the gateway,
which serves no /register, /activate or /recover-password page."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gateway.data.db import Database
from gateway.domain.activation_codes import issue, prepare_code
from gateway.domain.invitations import invite_user
from gateway.domain.password_changes import request_recovery
from gateway.models import Organization, OutboxMessage, utcnow
from gateway.settings import Settings
from tests.support.database import outbox_of
from tests.support.factories import make_org, make_user, request_for

PORTAL = "https://portal.plan.example.org/providers"
LINK = re.compile(r"https?://\S+")


@pytest.fixture
def portal_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"portal_url": PORTAL})


def links_in(body: str) -> list[str]:
    return LINK.findall(body)


def test_the_portal_defaults_to_a_local_front_end_not_the_gateway() -> None:
    assert Settings().portal_url == "http://localhost:3000"
    assert Settings(portal_url="https://portal.example.org/").portal_url == (
        "https://portal.example.org"
    )
    with pytest.raises(ValidationError):
        Settings(portal_url="portal.example.org")


async def test_an_invitation_links_to_the_portals_registration_page(
    db: Database, portal_settings: Settings
) -> None:
    org = await make_org(db)
    async with db.transaction() as session:
        await invite_user(
            session,
            org_id=org.id,
            invited_by_id=org.users[org.user("ACCOUNT_ADMIN")],
            request=request_for("jane@example.org"),
            settings=portal_settings,
        )
    invitation, copy = await outbox_of(db, org)  # the invitee's, and the sender's copy
    (link,) = links_in(invitation.body)
    assert link.startswith(f"{PORTAL}/register?invitation=")
    assert links_in(copy.body) == []  # the copy withholds the link


async def test_a_recovery_email_links_to_the_portals_recovery_page(
    db: Database, portal_settings: Settings
) -> None:
    username, _ = await make_user(db)
    async with db.transaction() as session:
        user_id = await request_recovery(
            session, login=username, settings=portal_settings, now=utcnow()
        )
    assert user_id is not None
    async with db.session() as session:
        body = await session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.kind == "RECOVERY")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert body is not None
    (link,) = links_in(body)
    assert link.startswith(f"{PORTAL}/recover-password?token=")


async def test_an_activation_letter_names_the_portals_activation_page(
    db: Database, portal_settings: Settings
) -> None:
    org = await make_org(db, status="PENDING_ACTIVATION")
    async with db.transaction() as session:
        organization = await session.get(Organization, org.id)
        assert organization is not None
        user_id = org.users[org.user("ACCOUNT_ADMIN")]
        code = await prepare_code()
        await issue(session, organization, user_id, code, portal_settings, utcnow(), issued_by=None)
    (letter,) = await outbox_of(db, org)
    assert links_in(letter.body) == [f"{PORTAL}/activate"]
