"""Object ids as the API shows them: decimal strings of the database key."""

from __future__ import annotations

from gateway.errors import NotFound


def parse_id(value: str, type_name: str) -> int:
    """A malformed id is answered like a missing one (V1): nothing is revealed either way."""
    if value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    raise NotFound(f"{type_name} not found")
