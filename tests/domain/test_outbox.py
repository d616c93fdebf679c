"""The outbox: delivery over SMTP to a real server in the test, retries, concurrency, the CLI."""

from __future__ import annotations

import asyncio
import email
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import select

from gateway.cli import main
from gateway.data.db import Database
from gateway.models import OutboxMessage, utcnow
from gateway.outbox import (
    Channel,
    DeliveryReport,
    OutboxKind,
    SmtpServer,
    deliver_pending,
    enqueue,
    retry_delay,
)
from gateway.settings import Settings, get_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the test SMTP server received; refuses recipients starting with "refused"."""

    messages: list[Message] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 -- aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 -- aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append(email.message_from_bytes(content))
        return "250 OK"

    def subjects(self, prefix: str) -> Counter[str]:
        return Counter(str(m["Subject"]) for m in self.messages if m["Subject"].startswith(prefix))


@dataclass
class SmtpTestServer:
    url: str
    mailbox: Mailbox


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, in its own thread."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpTestServer(f"smtp://127.0.0.1:{port}", mailbox)
    finally:
        controller.stop()


def with_smtp(settings: Settings, url: str | None, **changes: Any) -> Settings:
    return settings.model_copy(update={"smtp_url": url, **changes})


@pytest.fixture
async def drained(db: Database, settings: Settings, smtp: SmtpTestServer) -> None:
    """Send what earlier tests left due, so each test's passes see only its own messages."""
    while await deliver_pending(db, with_smtp(settings, smtp.url), limit=1000) != DeliveryReport():
        pass
    smtp.mailbox.messages.clear()


async def enqueue_emails(
    db: Database, tag: str, count: int = 1, channel: Channel = Channel.EMAIL
) -> list[int]:
    async with db.transaction() as session:
        messages = [
            await enqueue(
                session,
                kind=OutboxKind.INVITATION,
                channel=channel,
                recipient=f"{tag}-{i}@example.org",
                subject=f"{tag} #{i}",
                body=f"Hello {tag} {i}",
            )
            for i in range(count)
        ]
    return [m.id for m in messages]


async def rows(db: Database, ids: list[int]) -> list[OutboxMessage]:
    async with db.session() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        )
        return list(found)


async def one(db: Database, message_id: int) -> OutboxMessage:
    (row,) = await rows(db, [message_id])
    return row


# ---- delivery -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("drained")
async def test_pending_email_is_sent_to_its_recipient_with_its_subject(
    db: Database, settings: Settings, smtp: SmtpTestServer
) -> None:
    (message_id,) = await enqueue_emails(db, "sent")
    report = await deliver_pending(db, with_smtp(settings, smtp.url))
    assert report == DeliveryReport(sent=1)
    (received,) = smtp.mailbox.messages
    assert received["To"] == "sent-0@example.org"
    assert received["Subject"] == "sent #0"
    assert received["From"] == settings.smtp_from
    assert received.get_payload() == "Hello sent 0\r\n"  # SMTP line endings
    row = await one(db, message_id)
    assert (row.status, row.attempts, row.last_error) == ("SENT", 1, None)
    assert row.sent_at is not None


@pytest.mark.usefixtures("drained")
async def test_letters_are_never_emailed_and_stay_pending_for_the_mail_vendor(
    db: Database, settings: Settings, smtp: SmtpTestServer
) -> None:
    (letter_id,) = await enqueue_emails(db, "letter", channel=Channel.LETTER)
    assert await deliver_pending(db, with_smtp(settings, smtp.url)) == DeliveryReport()
    assert smtp.mailbox.messages == []
    row = await one(db, letter_id)
    assert (row.status, row.attempts) == ("PENDING", 0)


async def test_without_an_smtp_url_emails_stay_pending(db: Database, settings: Settings) -> None:
    (message_id,) = await enqueue_emails(db, "unconfigured")
    report = await deliver_pending(db, with_smtp(settings, None))
    assert not report.smtp_configured
    assert "GATEWAY_SMTP_URL is not set" in str(report)
    row = await one(db, message_id)
    assert (row.status, row.attempts) == ("PENDING", 0)


@pytest.mark.usefixtures("drained")
async def test_smtp_down_is_retried_later_and_nothing_is_lost(
    db: Database, settings: Settings, smtp: SmtpTestServer
) -> None:
    ids = await enqueue_emails(db, "down", count=3)
    down = with_smtp(settings, f"smtp://127.0.0.1:{free_port()}")  # connection refused
    now = utcnow()
    assert await deliver_pending(db, down, now=now) == DeliveryReport(retrying=3)
    for row in await rows(db, ids):
        assert (row.status, row.attempts) == ("PENDING", 1)
        assert row.last_error is not None and "connect" in row.last_error.lower()
        assert row.next_attempt_at == now + timedelta(seconds=settings.outbox_retry_seconds)
    # Not due yet: even with the server back, nothing is tried before the retry time.
    up = with_smtp(settings, smtp.url)
    assert await deliver_pending(db, up, now=now + timedelta(seconds=30)) == DeliveryReport()
    later = now + timedelta(seconds=settings.outbox_retry_seconds + 1)
    assert await deliver_pending(db, up, now=later) == DeliveryReport(sent=3)
    assert smtp.mailbox.subjects("down") == {"down #0": 1, "down #1": 1, "down #2": 1}
    assert [(r.status, r.attempts) for r in await rows(db, ids)] == [("SENT", 2)] * 3


@pytest.mark.usefixtures("drained")
async def test_after_the_last_attempt_the_message_is_failed_but_kept(
    db: Database, settings: Settings, smtp: SmtpTestServer
) -> None:
    (message_id,) = await enqueue_emails(db, "doomed")
    down = with_smtp(settings, f"smtp://127.0.0.1:{free_port()}", outbox_max_attempts=3)
    start = utcnow()
    reports = [
        await deliver_pending(db, down, now=start + timedelta(days=attempt)) for attempt in range(3)
    ]
    assert reports == [DeliveryReport(retrying=1)] * 2 + [DeliveryReport(failed=1)]
    row = await one(db, message_id)
    assert (row.status, row.attempts) == ("FAILED", 3)
    assert row.last_error
    # A failed message is never tried again, nor deleted.
    up = with_smtp(settings, smtp.url)
    assert await deliver_pending(db, up, now=start + timedelta(days=30)) == DeliveryReport()
    assert (await one(db, message_id)).status == "FAILED"


@pytest.mark.usefixtures("drained")
async def test_a_refused_recipient_fails_alone_and_the_others_are_sent(
    db: Database, settings: Settings, smtp: SmtpTestServer
) -> None:
    ids = await enqueue_emails(db, "mixed", count=2)
    refused = await enqueue_emails(db, "refused", count=1)
    once = with_smtp(settings, smtp.url, outbox_max_attempts=1)
    assert await deliver_pending(db, once) == DeliveryReport(sent=2, failed=1)
    assert [r.status for r in await rows(db, ids)] == ["SENT", "SENT"]
    row = await one(db, refused[0])
    assert row.status == "FAILED" and row.last_error and "no such mailbox" in row.last_error


def test_retry_delay_doubles_after_each_attempt(settings: Settings) -> None:
    assert [retry_delay(settings, n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(settings, 40) == timedelta(days=1)


async def test_concurrent_passes_never_send_a_message_twice(
    db: Database, settings: Settings, smtp: SmtpTestServer, drained: None
) -> None:
    """Several passes at once (separate connections, as from several gateway processes), each
    claiming a few messages at a time: every message arrives exactly once. Repeated."""
    up = with_smtp(settings, smtp.url)
    databases = [Database(settings.database_url) for _ in range(4)]
    try:
        for round_ in range(5):
            tag = f"race{round_}"
            ids = await enqueue_emails(db, tag, count=24)
            while any(r.status == "PENDING" for r in await rows(db, ids)):
                await asyncio.gather(*(deliver_pending(d, up, limit=5) for d in databases))
            assert smtp.mailbox.subjects(tag) == {f"{tag} #{i}": 1 for i in range(24)}
            assert {r.attempts for r in await rows(db, ids)} == {1}
    finally:
        for database in databases:
            await database.dispose()


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"portal", b"p@ss word"))


@pytest.mark.usefixtures("drained")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_credentials_in_the_smtp_url_are_used_to_log_in(
    db: Database, settings: Settings
) -> None:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,  # a test on loopback; production URLs use STARTTLS or smtps
        auth_required=True,
    )
    controller.start()
    try:
        (message_id,) = await enqueue_emails(db, "login")
        url = f"smtp://portal:p%40ss%20word@127.0.0.1:{port}"
        assert await deliver_pending(db, with_smtp(settings, url)) == DeliveryReport(sent=1)
    finally:
        controller.stop()
    assert [m["Subject"] for m in mailbox.messages] == ["login #0"]
    assert (await one(db, message_id)).status == "SENT"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpServer("mail.example.org", 25)),
        ("smtps://mail.example.org", SmtpServer("mail.example.org", 465, use_tls=True)),
        (
            "smtp://me%40x.org:s%3Acret@mail.example.org:587",
            SmtpServer("mail.example.org", 587, "me@x.org", "s:cret"),
        ),
    ],
)
def test_smtp_url_names_server_port_and_credentials(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_a_malformed_smtp_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="GATEWAY_SMTP_URL"):
        SmtpServer.from_url(url)


# ---- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    get_settings.cache_clear()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("GATEWAY_SMTP_URL", raising=False)
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
async def test_outbox_list_prints_pending_messages_with_their_bodies(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    (message_id,) = await enqueue_emails(db, "listed")
    assert await asyncio.to_thread(main, ["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert f"#{message_id} INVITATION EMAIL" in out
    assert "To: listed-0@example.org\nSubject: listed #0\n\nHello listed 0" in out
    assert await asyncio.to_thread(main, ["outbox", "list", "--status", "SENT"]) == 0
    assert f"#{message_id} " not in capsys.readouterr().out


@pytest.mark.usefixtures("cli_env")
async def test_outbox_deliver_without_smtp_leaves_messages_pending(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    (message_id,) = await enqueue_emails(db, "cli-deliver")
    assert await asyncio.to_thread(main, ["outbox", "deliver"]) == 0
    assert "GATEWAY_SMTP_URL is not set" in capsys.readouterr().out
    assert (await one(db, message_id)).status == "PENDING"


@pytest.mark.usefixtures("cli_env")
async def test_outbox_deliver_sends_over_the_configured_server(
    db: Database,
    smtp: SmtpTestServer,
    drained: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (message_id,) = await enqueue_emails(db, "cli-sent")
    monkeypatch.setenv("GATEWAY_SMTP_URL", smtp.url)
    assert await asyncio.to_thread(main, ["outbox", "deliver"]) == 0
    assert "1 sent, 0 to retry later, 0 failed" in capsys.readouterr().out
    assert (await one(db, message_id)).status == "SENT"
