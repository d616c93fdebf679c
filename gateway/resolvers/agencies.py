"""Reads of agency grants (R11)."""

from __future__ import annotations

from gateway.context import Context
from gateway.models import Provider, User


async def grant_providers(context: Context, grant_id: int) -> list[Provider]:
    """The providers a grant is limited to; empty means all of the organization's."""
    result: list[Provider] = await context.loaders.grant_providers.load(grant_id)
    return result


async def grant_staff(context: Context, grant_id: int) -> list[User]:
    result: list[User] = await context.loaders.grant_staff.load(grant_id)
    return result
