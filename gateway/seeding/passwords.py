"""Password hashes for seeded users: the same argon2id hasher sign-in verifies (R14)."""

from __future__ import annotations

from gateway.auth import hash_password
from gateway.seeding.document import SeedDocument

__all__ = ["hash_each", "hash_password"]


def hash_each(document: SeedDocument) -> dict[str, str]:
    """username -> its own salted hash, for every user given a password (about 50-200 ms each,
    so seed files should stay small)."""
    return {
        user.username: hash_password(user.password)
        for user in document.users
        if user.password is not None
    }
