"""Passwords (R14): the one argon2id hasher, and the policy a new password must meet.

Hashing and verifying are deliberately slow (tens to hundreds of milliseconds), so callers on
the event loop run them in a worker thread (``asyncio.to_thread``). Nothing else in the gateway
hashes, verifies or reads a password.

The policy follows NIST SP 800-63B: a minimum length (a setting, default 12), no composition
rules, and no password from the shipped list of common ones (``gateway.auth.blocklist``),
nor one containing the username or the email address's local part.
"""

from __future__ import annotations

import string
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.auth.blocklist import blocked
from gateway.errors import BadUserInput
from gateway.settings import get_settings

MAX_LENGTH = 256  # argon2 takes any length; this bounds the work one request can ask for
ARGON2ID_PREFIX = "$argon2id$"
# Leading and trailing characters people add to a word to pass a rule: "Sunshine2024!".
PADDING = string.digits + string.punctuation + " "
UNLEET = str.maketrans("@4310$5!7", "aaeiossit")
# Parts of an identifier shorter than this are too common to forbid inside a password.
MIN_IDENTIFIER_PART = 3



@cache
def _hasher() -> PasswordHasher:
    """argon2id at the configured cost (default: argon2's own, about 50-200 ms a hash)."""
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    """A salted argon2id hash (R14)."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; only argon2id hashes are ever accepted (R14).

    Without a usable hash it verifies against a dummy one, so an unknown user costs the same
    time as a wrong password."""
    if password_hash is None or not password_hash.startswith(ARGON2ID_PREFIX):
        _verify(_dummy_hash(), password)
        return False
    return _verify(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (rehash on sign-in)."""
    return _hasher().check_needs_rehash(password_hash)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher().hash("a dummy password nobody has")


def password_problems(password: str, *, min_length: int, username: str, email: str) -> list[str]:
    """What is wrong with a new password (empty: it meets the policy)."""
    if len(password) < min_length:
        return [f"a password needs at least {min_length} characters"]
    if len(password) > MAX_LENGTH:
        return [f"a password has at most {MAX_LENGTH} characters"]
    problems = []
    if is_common(password):
        problems.append("this password is on the list of common or breached passwords")
    lowered = password.lower()
    for part in (username, email.partition("@")[0]):
        if len(part) >= MIN_IDENTIFIER_PART and part.lower() in lowered:
            problems.append("a password must not contain your username or email address")
            break
    return problems


def check_password(password: str, *, min_length: int, username: str, email: str) -> None:
    """Raise BAD_USER_INPUT naming R14 unless ``password`` meets the policy."""
    problems = password_problems(password, min_length=min_length, username=username, email=email)
    if problems:
        raise BadUserInput(f"R14: {'; '.join(problems)}", rule="R14", problems=problems)


def is_common(password: str) -> bool:
    """On the shipped list, ignoring case, common substitutions and padding."""
    lowered = password.lower()
    core = lowered.strip(PADDING)
    candidates = {lowered, lowered.translate(UNLEET), core, core.translate(UNLEET)}
    return not candidates.isdisjoint(blocked())
