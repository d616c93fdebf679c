"""A gateway that cannot start says why: every bad setting by name, never a value given."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gateway.cli import main
from gateway.settings import get_settings

SECRET = "production-signing-secret-whose-tail-is-ZQ7XK4PL9WM2"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["GATEWAY_AUDIT_KEY", "GATEWAY_TOTP_KEY"]),  # missing
        (
            {"GATEWAY_AUDIT_KEY": "k", "GATEWAY_PASSWORD_HASH_TIME_COST": "1"},
            ["GATEWAY_TOTP_KEY", "GATEWAY_PASSWORD_HASH_TIME_COST"],
        ),
        (  # not of their types
            {"GATEWAY_MAX_FAILED_LOGINS": "many", "GATEWAY_SESSION_IDLE_MINUTES": "soon"},
            ["GATEWAY_MAX_FAILED_LOGINS", "GATEWAY_SESSION_IDLE_MINUTES"],
        ),
    ],
)
def test_production_names_every_bad_setting_and_never_echoes_the_secret(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    named: list[str],
) -> None:
    for name in [name for name in os.environ if name.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)  # the suite's own settings (cheap hashing, loose limits)
    monkeypatch.setenv("GATEWAY_ENV", "production")
    monkeypatch.setenv("GATEWAY_JWT_SECRET", SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["policy", "check"]) == 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert SECRET[-8:] not in output
    assert "input_value" not in output
    assert [name for name in named if name not in captured.err] == []
