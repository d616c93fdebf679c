"""Rate limits of sign-in and password recovery, so no number of requests (or of aliased
mutations in one request) can brute-force a password or a recovery link.

A moving window per key, kept in Redis when ``GATEWAY_REDIS_URL`` is set (every process
shares the counts) or in this process's memory otherwise. Each attempt counts once it is
made, whatever its outcome; ``hit`` refuses the attempt over the limit with RATE_LIMITED.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from gateway.errors import RateLimited
from gateway.settings import Settings

TOO_MANY = "Too many attempts: try again later"


class Limit(StrEnum):
    """What is counted; the value names the key's namespace."""

    LOGIN_PER_ACCOUNT = "login-account"
    LOGIN_PER_ADDRESS = "login-address"
    RECOVERY_PER_ADDRESS = "recovery-address"
    ACTIVATION_PER_ADDRESS = "activation-address"
    REGISTRATION_PER_ADDRESS = "registration-address"
    OAUTH_PER_CLIENT = "oauth-client"  # POST /oauth/token, per client_id (gateway.http.oauth)
    OAUTH_PER_ADDRESS = "oauth-address"


# The setting holding each limit, "N/period" as `limits` parses it.
SETTING_OF: dict[Limit, str] = {
    Limit.LOGIN_PER_ACCOUNT: "login_limit_per_account",
    Limit.LOGIN_PER_ADDRESS: "login_limit_per_address",
    Limit.RECOVERY_PER_ADDRESS: "recovery_limit_per_address",
    Limit.ACTIVATION_PER_ADDRESS: "activation_limit_per_address",
    Limit.REGISTRATION_PER_ADDRESS: "registration_limit_per_address",
    Limit.OAUTH_PER_CLIENT: "oauth_limit_per_client",
    Limit.OAUTH_PER_ADDRESS: "oauth_limit_per_address",
}
Limits = tuple[tuple[Limit, str], ...]
# Keys that are usernames count alike in any case, as the accounts they name do (R14).
USERNAME_KEYED = frozenset({Limit.LOGIN_PER_ACCOUNT})


@dataclass(frozen=True, slots=True)
class Limiter:
    """One per process (``Runtime.limiter``): the strategy over its storage, and the limits."""

    strategy: MovingWindowRateLimiter
    items: dict[Limit, RateLimitItem]

    @classmethod
    def create(cls, settings: Settings) -> Limiter:
        """Redis when ``settings.redis_url`` is set, memory otherwise; bad limits fail here."""
        if not settings.redis_url:
            return _memory_limiter(_limits_of(settings))
        uri = "async+" + settings.redis_url
        storage = storage_from_string(uri, key_prefix=settings.rate_limit_key_prefix)
        return cls(MovingWindowRateLimiter(storage), _items(_limits_of(settings)))


    def close(self) -> None:
        """Let go of the store's connections (a Redis pool; memory holds none)."""
        bridge = getattr(self.strategy.storage, "bridge", None)
        pool = getattr(getattr(bridge, "storage", None), "connection_pool", None)
        if pool is not None:
            pool.disconnect()


def _limits_of(settings: Settings) -> Limits:
    return tuple((limit, str(getattr(settings, name))) for limit, name in SETTING_OF.items())


def _items(limits: Limits) -> dict[Limit, RateLimitItem]:
    return {limit: parse(text) for limit, text in limits}


@cache
def _memory_limiter(limits: Limits) -> Limiter:
    """This process's in-memory counts, one store per set of limits."""
    storage = storage_from_string("async+memory://")
    return Limiter(MovingWindowRateLimiter(storage), _items(limits))


async def hit(limiter: Limiter, limit: Limit, key: str | None) -> None:
    """Count one attempt against ``limit`` for ``key``; over the limit, RATE_LIMITED."""
    item = limiter.items[limit]
    identifier = key if key is not None else "unknown"  # no address: one shared bucket
    if limit in USERNAME_KEYED:
        identifier = identifier.lower()
    if await limiter.strategy.hit(item, limit.value, identifier):
        return
    stats = await limiter.strategy.get_window_stats(item, limit.value, identifier)
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    raise RateLimited(TOO_MANY, retryAfterSeconds=retry_after)
