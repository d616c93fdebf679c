"""Password hashing for seeded users: argon2, the same slow salted hash logins verify (R14)."""

from __future__ import annotations

from argon2 import PasswordHasher

from gateway.seeding.document import SeedDocument

# Default (production) cost: about 50 ms a hash, so seed files should stay small.
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def hash_each(document: SeedDocument) -> dict[str, str]:
    """username -> its own salted hash, for every user given a password."""
    return {
        user.username: hash_password(user.password)
        for user in document.users
        if user.password is not None
    }
