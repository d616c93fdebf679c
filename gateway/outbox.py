"""The outbox: every email and letter, written in the transaction of the change that sends it.

Extension point for every workflow that tells someone something (R1 activation letters, R2
invitations, R13 recovery emails, R15 reminders, R11 agency notices). A workflow never talks to a
mail server: it calls ``enqueue`` with the session of its own transaction, so the message exists
if and only if the change commits::

    async with context.write_transaction() as session:
        invitation = ...  # the change itself
        await outbox.enqueue(
            session,
            kind=OutboxKind.INVITATION,
            channel=Channel.EMAIL,
            recipient="jane@example.org",
            subject="You are invited to the provider portal",
            body="...",
            organization_id=org_id,
        )

Delivery is ``deliver_pending`` (``gateway outbox deliver``; a scheduler runs it every minute or
so). With ``GATEWAY_SMTP_URL`` set it sends due emails; several gateway processes may run it at
once, since each claims its messages first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
lock on SQLite) and pushes them out of everyone's reach for a lease. A failure is retried with
exponential backoff; after ``outbox_max_attempts`` the message is FAILED. Nothing is deleted.

Letters (channel LETTER, e.g. R1's activation code to the correspondence address) are never
emailed: they stay PENDING for the print-and-mail vendor's export and ``gateway outbox list``
shows them. Without ``GATEWAY_SMTP_URL`` (development) emails stay PENDING too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from types import TracebackType
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.data import Database
from gateway.models import OutboxMessage, utcnow
from gateway.settings import Settings

SMTP_TIMEOUT_SECONDS = 30
MAX_RETRY_DELAY = timedelta(days=1)


class OutboxKind(StrEnum):
    """Why a message is sent (add a member for a new workflow)."""

    INVITATION = "INVITATION"  # R2: to the invitee, with the registration link
    INVITATION_COPY = "INVITATION_COPY"  # R2 (seed 001): the inviter's copy, without the link
    RECOVERY = "RECOVERY"  # R13
    ACTIVATION_LETTER = "ACTIVATION_LETTER"  # R1
    REVIEW_REMINDER = "REVIEW_REMINDER"  # R12, R15
    AGENCY_NOTICE = "AGENCY_NOTICE"  # R11


class Channel(StrEnum):
    EMAIL = "EMAIL"
    LETTER = "LETTER"  # printed and mailed by a vendor; never sent by the gateway


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"  # gave up after outbox_max_attempts; kept for someone to look at


async def enqueue(
    session: AsyncSession,
    *,
    kind: OutboxKind,
    channel: Channel,
    recipient: str,
    subject: str,
    body: str,
    organization_id: int | None = None,
) -> OutboxMessage:
    """Add a message to the caller's transaction: it is sent only if that transaction commits.

    ``recipient`` is an email address (EMAIL) or the postal address as printed (LETTER)."""
    now = utcnow()
    message = OutboxMessage(
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        organization_id=organization_id,
        created_at=now,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def messages(
    db: Database, *, statuses: Iterable[OutboxStatus], limit: int = 100
) -> Sequence[OutboxMessage]:
    """Messages in ``statuses``, oldest first (``gateway outbox list``)."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(list(statuses)))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    async with db.session() as session:
        return (await session.scalars(statement)).all()


def describe(message: OutboxMessage) -> str:
    """A message as ``gateway outbox list`` prints it: the envelope, then the body."""
    status = f"{message.status}, {message.attempts} attempt(s)"
    if message.status == OutboxStatus.PENDING and message.attempts:
        status += f", next {message.next_attempt_at.isoformat()}"
    if message.last_error:
        status += f", last error: {message.last_error}"
    return (
        f"#{message.id} {message.kind} {message.channel} {message.created_at.isoformat()} "
        f"[{status}]\nTo: {message.recipient}\nSubject: {message.subject}\n\n{message.body}"
    )


# ---- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one pass of ``deliver_pending`` did."""

    sent: int = 0
    retrying: int = 0  # failed this time, tried again later
    failed: int = 0  # failed for the last time: now FAILED
    smtp_configured: bool = True

    def __str__(self) -> str:
        if not self.smtp_configured:
            return "GATEWAY_SMTP_URL is not set: emails stay pending (gateway outbox list)"
        return f"{self.sent} sent, {self.retrying} to retry later, {self.failed} failed"


async def deliver_pending(
    db: Database, settings: Settings, *, now: datetime | None = None, limit: int = 100
) -> DeliveryReport:
    """One delivery pass: claim up to ``limit`` due emails, send them, record each outcome."""
    if not settings.smtp_url:
        return DeliveryReport(smtp_configured=False)  # development: they stay PENDING
    server = SmtpServer.from_url(settings.smtp_url)
    now = now or utcnow()
    claimed = await _claim(db, now, limit)
    outcomes: list[OutboxStatus | None] = []
    async with Mailer(server, settings.smtp_from) as mailer:
        for message in claimed:
            error = await mailer.send(message)
            outcomes.append(await _record(db, settings, message, error, now))
    return DeliveryReport(
        sent=outcomes.count(OutboxStatus.SENT),
        retrying=outcomes.count(None),
        failed=outcomes.count(OutboxStatus.FAILED),
    )


def claim_lease(limit: int) -> timedelta:
    """How long claimed messages stay out of other passes' reach: long enough for every send of
    a pass to time out. A pass that dies leaves its messages to be retried after the lease."""
    return timedelta(seconds=2 * SMTP_TIMEOUT_SECONDS * (limit + 1))


async def _claim(db: Database, now: datetime, limit: int) -> Sequence[OutboxMessage]:
    """Take due emails in one statement; concurrent passes skip rows another one has locked."""
    due = (
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.channel == Channel.EMAIL,  # letters wait for the mail vendor's export
        OutboxMessage.next_attempt_at <= now,
    )
    chosen = (
        select(OutboxMessage.id)
        .where(*due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write lock serializes passes
    )
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen), *due)
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + claim_lease(limit))
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    async with db.transaction() as session:
        claimed = (await session.scalars(statement)).all()
    return sorted(claimed, key=lambda message: message.id)


async def _record(
    db: Database, settings: Settings, message: OutboxMessage, error: str | None, now: datetime
) -> OutboxStatus | None:
    """Store one outcome at once, so a pass that dies later never sends this message again."""
    status: OutboxStatus | None
    values: dict[str, object]
    if error is None:
        status, values = OutboxStatus.SENT, {"status": OutboxStatus.SENT, "sent_at": now}
    elif message.attempts >= settings.outbox_max_attempts:
        status, values = OutboxStatus.FAILED, {"status": OutboxStatus.FAILED}
    else:
        delay = retry_delay(settings, message.attempts)
        status, values = None, {"next_attempt_at": now + delay}
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(last_error=error, **values)
        )
    return status


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """Exponential backoff: the base delay after the first attempt, doubled after each one."""
    seconds = settings.outbox_retry_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where to send: parsed from ``GATEWAY_SMTP_URL`` (smtp:// or smtps://)."""

    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # smtps: TLS from the start; smtp: STARTTLS when the server offers it

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("GATEWAY_SMTP_URL must look like smtp://user:password@host:port")
        use_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
        )


# The connection itself is gone: every later message of the pass would fail the same way.
CONNECTION_ERRORS = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
)


class Mailer:
    """One SMTP connection for a delivery pass. Once the server is unreachable (or refuses the
    login), the rest of the pass fails fast with the same error instead of waiting again."""

    def __init__(self, server: SmtpServer, sender: str) -> None:
        self.server = server
        self.sender = sender
        self._client: aiosmtplib.SMTP | None = None
        self._down: str | None = None

    async def __aenter__(self) -> Mailer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def send(self, message: OutboxMessage) -> str | None:
        """``None`` when the server accepted the message, else why it was not sent."""
        if self._down is not None:
            return self._down
        try:
            client = await self._connected()
        except (aiosmtplib.SMTPException, OSError) as error:
            self._down = _describe(error)
            return self._down
        try:
            await client.send_message(_email(message, self.sender))
        except CONNECTION_ERRORS as error:
            self._down = _describe(error)
            await self._close()
            return self._down
        except (aiosmtplib.SMTPException, ValueError) as error:  # this message only
            return _describe(error)
        return None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None:
            server = self.server
            client = aiosmtplib.SMTP(
                hostname=server.hostname,
                port=server.port,
                use_tls=server.use_tls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
            await client.connect()
            self._client = client
            if server.username is not None:
                await client.login(server.username, server.password or "")
        return self._client

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def _email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # Stable across retries, so a receiving system can drop a duplicate after a lost reply.
    email["Message-ID"] = f"<outbox-{message.id}-{int(message.created_at.timestamp())}@gateway>"
    email.set_content(message.body)
    return email


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]
