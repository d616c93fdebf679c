"""R14: the one argon2id hasher and the password policy (no network, a shipped list)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from gateway.auth import blocklist as password_blocklist
from gateway.auth.passwords import (
    MAX_LENGTH,
    check_password,
    hash_password,
    is_common,
    password_problems,
    verify_password,
)
from gateway.seeding import passwords as seeding_passwords
from tests.support.accounts import PASSWORD, password_hash

USERNAME, EMAIL = "jdoe", "jane.doe+portal@example.org"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "at least 12 characters"),
        ("elevenchars", "at least 12 characters"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        ("password1234", "common or breached"),
        ("Password2024!", "common or breached"),  # case and a year do not hide it
        ("P@ssw0rd12345", "common or breached"),  # nor substitutions
        ("qwertyuiop123", "common or breached"),  # keyboard walks
        ("123456789012", "common or breached"),
        ("  Healthcare!!!  ", "common or breached"),  # the portal's own vocabulary
        ("jdoe-is-my-passphrase", "username or email"),
        ("My name is JDOE, hello", "username or email"),  # ignoring case
        ("jane.doe+portal is here", "username or email"),  # the email's local part
        (PASSWORD, None),
        ("twelve chars", None),
        ("sunrise clinic front desk 2024", None),
    ],
)
def test_password_policy(password: str, problem: str | None) -> None:
    problems = password_problems(password, min_length=12, username=USERNAME, email=EMAIL)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_the_minimum_length_is_a_setting() -> None:
    assert password_problems("eight ch", min_length=8, username=USERNAME, email=EMAIL) == []
    assert password_problems("eight ch", min_length=9, username=USERNAME, email=EMAIL) != []


def test_a_policy_violation_is_bad_user_input_naming_r14() -> None:
    with pytest.raises(Exception) as raised:
        check_password("password1234", min_length=12, username=USERNAME, email=EMAIL)
    extensions = getattr(raised.value, "extensions", {})
    assert extensions["code"] == "BAD_USER_INPUT" and extensions["rule"] == "R14"


def test_hashes_are_salted_argon2id() -> None:
    first, second = password_hash(), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert first != second  # salted
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "!")


def test_only_argon2id_hashes_are_accepted() -> None:
    argon2i = PasswordHasher(type=Type.I).hash(PASSWORD)
    assert not verify_password(argon2i, PASSWORD)
    assert not verify_password("plain text", "plain text")
    assert not verify_password(None, PASSWORD)


def test_seeding_uses_the_same_hasher() -> None:
    assert seeding_passwords.hash_password is hash_password


def test_the_shipped_list_is_the_generated_one() -> None:
    """The data file is reproducible offline: regenerating it changes nothing."""
    shipped = password_blocklist.LIST_FILE.read_text(encoding="utf-8").splitlines()
    generated = [*password_blocklist.HEADER, *password_blocklist.generate()]
    assert shipped == generated
    assert len(password_blocklist.blocked()) > 5000


def test_common_passwords_are_found_whatever_their_dress() -> None:
    assert is_common("Letmein")
    assert is_common("L3tm31n2025!")
    assert not is_common("Letmein to the clinic please")
