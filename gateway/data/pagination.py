"""Keyset pagination behind every Relay connection: opaque cursors and a capped page size."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from gateway.data.ids import MAX_ID
from gateway.errors import BadUserInput

CURSOR_PREFIX = "k:"
MAX_SEQ = 2**63 - 1  # the largest BIGINT key (access-log entry numbers outgrow INTEGER ids)


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{key}".encode()).decode()


def decode_cursor(cursor: str, *, key_maximum: int = MAX_ID) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text.removeprefix(CURSOR_PREFIX) if text.startswith(CURSOR_PREFIX) else ""
    if _is_key(digits, key_maximum):
        return int(digits)
    raise BadUserInput("Invalid cursor", argument="after")


def _is_key(digits: str, maximum: int) -> bool:
    """Decimal digits of a key no larger than ``maximum`` (bounded before ``int`` parses)."""
    return (
        digits.isascii()
        and digits.isdigit()
        and len(digits) <= len(str(maximum))
        and int(digits) <= maximum
    )


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``first`` rows with keys greater than ``after``; fetches one extra to know if more exist."""

    first: int
    after: int | None

    @classmethod
    def parse(
        cls,
        first: int | None,
        after: str | None,
        *,
        default: int,
        maximum: int,
        key_maximum: int = MAX_ID,
    ) -> PageRequest:
        """``key_maximum``: the largest key a cursor may hold (BIGINT keys pass MAX_SEQ)."""
        size = default if first is None else first
        if size < 0 or size > maximum:
            raise BadUserInput(
                f"`first` must be between 0 and {maximum}", argument="first", maximum=maximum
            )
        return cls(size, decode_cursor(after, key_maximum=key_maximum) if after else None)
