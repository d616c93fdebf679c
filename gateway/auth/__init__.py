"""Authentication: who is calling, and the credentials they prove it with.

- ``Authenticator``: a request's bearer token (the gateway's own, or an external OpenID
  Connect provider's) to its ``Caller``, loaded from the database on every request.
- ``mint_token`` / ``access_token``: the gateway's own tokens; ``passwords``: argon2 hashes and
  the password rules; ``second_factor``: TOTP secrets; ``rate_limits``: sign-in limits.
"""

from gateway.auth import passwords, rate_limits, second_factor
from gateway.auth.authenticator import Authentication, Authenticator
from gateway.auth.caller import ANONYMOUS_CALLER, Caller
from gateway.auth.callers import password_expired, second_factor_missing
from gateway.auth.passwords import check_password, hash_password, needs_rehash, verify_password
from gateway.auth.rate_limits import Limit, Limiter
from gateway.auth.tokens import access_token, current_version, mint_token, signs_own_tokens

__all__ = [
    "ANONYMOUS_CALLER",
    "Authentication",
    "Authenticator",
    "Caller",
    "Limit",
    "Limiter",
    "access_token",
    "check_password",
    "current_version",
    "hash_password",
    "mint_token",
    "needs_rehash",
    "password_expired",
    "passwords",
    "rate_limits",
    "second_factor",
    "second_factor_missing",
    "signs_own_tokens",
    "verify_password",
]
