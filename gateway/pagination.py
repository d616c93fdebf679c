"""Keyset pagination behind every Relay connection: opaque cursors and a capped page size."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from gateway.errors import BadUserInput
from gateway.ids import as_id

CURSOR_PREFIX = "k:"


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{key}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        key = as_id(text.removeprefix(CURSOR_PREFIX)) if text.startswith(CURSOR_PREFIX) else None
        if key is not None:
            return key
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadUserInput("Invalid cursor", argument="after")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``first`` rows with keys greater than ``after``; fetches one extra to know if more exist."""

    first: int
    after: int | None

    @classmethod
    def parse(
        cls, first: int | None, after: str | None, *, default: int, maximum: int
    ) -> PageRequest:
        size = default if first is None else first
        if size < 0 or size > maximum:
            raise BadUserInput(
                f"`first` must be between 0 and {maximum}", argument="first", maximum=maximum
            )
        return cls(size, decode_cursor(after) if after else None)
