"""How a masked read (``read_masked``) shows a value: declared once per field."""

from __future__ import annotations

from collections.abc import Callable


def last_four(value: str) -> str:
    """Everything but the last four characters hidden ("****6789")."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def email(value: str) -> str:
    """The first letter and the domain ("j***@example.org")."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else last_four(value)


def phone(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    return "***-***-" + "".join(digits[-4:])


Masker = Callable[[str], str]

MASKS: dict[tuple[str, str], Masker] = {
    ("User", "email"): email,
    ("User", "phone"): phone,
    ("EftAccount", "accountNumber"): last_four,
    ("EftAccount", "routingNumber"): last_four,
    ("TaxId", "tin"): last_four,
}


def apply(type_name: str, field: str, value: object) -> object:
    """Mask ``value``; a field without a masker is never returned in clear."""
    if value is None:
        return None
    masker = MASKS.get((type_name, field))
    if masker is None or not isinstance(value, str):
        return None
    return masker(value)
