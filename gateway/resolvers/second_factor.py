"""Second-factor mutations (R14): enrol, confirm, and the help desk's reset.

Each runs in one write transaction with its access-log entries; a refused enrolment step is
logged and committed first, then answered with its error. Neither the secret nor a code is
ever logged.
"""

from __future__ import annotations

from gateway.audit import events
from gateway.context import Context
from gateway.data import parse_id
from gateway.domain import second_factor
from gateway.domain.second_factor import Enrollment, FactorChange
from gateway.models import utcnow


def _answered(change: FactorChange) -> FactorChange:
    """The change, once it is known not to have been refused."""
    if change.refusal is not None:
        raise change.refusal
    return change


async def begin_enrollment(context: Context) -> Enrollment:
    user_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        change = await second_factor.begin_enrollment(
            session, user_id=user_id, settings=context.settings
        )
        context.audit.record_event(change.event, user_id)
    enrollment = _answered(change).enrollment
    assert enrollment is not None  # not refused
    return enrollment


async def confirm(context: Context, code: str) -> bool:
    user_id = context.signed_in_user_id()
    async with context.write_transaction() as session:
        change = await second_factor.confirm(
            session, user_id=user_id, code=code, settings=context.settings, now=utcnow()
        )
        context.audit.record_event(change.event, user_id)
    _answered(change)
    return True


async def reset(context: Context, raw_user_id: str) -> bool:
    user_id = parse_id(raw_user_id, "User")
    async with context.write_transaction() as session:
        await second_factor.reset(session, user_id=user_id)
        context.audit.record_event(events.SECOND_FACTOR_RESET, user_id)
    return True
