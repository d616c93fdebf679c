"""Object ids as the API shows them: decimal strings of the database key."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import BadUserInput, NotFound

MAX_ID = 2**31 - 1  # the largest key an INTEGER column holds on both databases
MAX_INPUT_IDS = 500  # ids one list argument may hold (bounds the statement's parameters)


def as_id(value: str) -> int | None:
    """The key ``value`` names, or None if it cannot name one."""
    if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID:
        return int(value)
    return None


def parse_id(value: str, type_name: str) -> int:
    """A malformed id is answered like a missing one (V1): nothing is revealed either way."""
    key = as_id(value)
    if key is None:
        raise NotFound(f"{type_name} not found")
    return key


def parse_input_ids(values: Iterable[str], argument: str) -> frozenset[int]:
    """Ids given as input (not looked up): a malformed one is the client's mistake."""
    values = list(values)
    if len(values) > MAX_INPUT_IDS:
        raise BadUserInput(f"`{argument}` holds more than {MAX_INPUT_IDS} ids", argument=argument)
    keys = {as_id(value) for value in values}
    if None in keys:
        raise BadUserInput(f"`{argument}` holds a malformed id", argument=argument)
    return frozenset(k for k in keys if k is not None)
