"""JSON in and out of the gateway, encoded in C (orjson) with the standard library behind it.

orjson refuses what JSON cannot carry as UTF-8 (an unpaired surrogate in text a client sent)
and integers past 64 bits; the standard library writes those as ``\\uXXXX`` escapes and
digits, so ``dumps`` falls back to it rather than fail an answer.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["ascii_dumps", "dumps", "loads"]

loads = orjson.loads


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 (an HTTP answer)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def ascii_dumps(value: Any) -> bytes:
    """Compact JSON in ASCII, every other character escaped: one spelling per value, what a
    hash may cover. orjson's bytes are the standard library's whenever they are ASCII."""
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        encoded = b"\x80"  # not ASCII: spelled by the standard library below
    if encoded.isascii():
        return encoded
    return json.dumps(value, separators=(",", ":")).encode()
