"""The ``gateway`` command line: token, policy check and audit verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from gateway.cli import main
from gateway.settings import DEVELOPMENT_JWT_SECRET, Settings, get_settings
from tests.support import World

POLICY = Path(__file__).resolve().parents[2] / "authz" / "policy.csv"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_token_prints_only_a_token_for_the_user(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    world: World,
) -> None:
    monkeypatch.delenv("GATEWAY_JWT_SECRET", raising=False)
    monkeypatch.setenv("GATEWAY_ENV", "development")
    # The token carries the user's current token version, read from the database (R14).
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    assert main(["token", "admin"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    claims = jwt.decode(out.strip(), DEVELOPMENT_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "admin"


def test_token_is_refused_outside_development(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ENV", "production")
    monkeypatch.setenv("GATEWAY_JWT_SECRET", "a-production-secret-of-some-length")
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "a-production-audit-key")
    monkeypatch.setenv("GATEWAY_TOTP_KEY", "a-production-totp-key")
    monkeypatch.setenv("GATEWAY_PORTAL_URL", "https://portal.example.org")
    monkeypatch.delenv("GATEWAY_PASSWORD_HASH_TIME_COST")  # the suite's cheap hashing is
    monkeypatch.delenv("GATEWAY_PASSWORD_HASH_MEMORY_KIB")  # refused in production
    assert main(["token", "admin"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refused" in captured.err


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"GATEWAY_AUDIT_KEY": "k"}, "GATEWAY_JWT_SECRET or GATEWAY_JWKS_URL"),
        (
            {"GATEWAY_AUDIT_KEY": "k", "GATEWAY_JWKS_URL": "https://idp.test/jwks"},
            "GATEWAY_JWT_AUDIENCE and GATEWAY_JWT_ISSUER",
        ),
        (
            {
                "GATEWAY_AUDIT_KEY": "k",
                "GATEWAY_JWKS_URL": "https://idp.test/jwks",
                "GATEWAY_JWT_AUDIENCE": "gateway",
            },
            "GATEWAY_JWT_ISSUER",
        ),
        ({"GATEWAY_JWT_SECRET": "s"}, "GATEWAY_AUDIT_KEY"),
        # R14: signing users in itself, it stores second-factor secrets, encrypted with this.
        ({"GATEWAY_JWT_SECRET": "s", "GATEWAY_AUDIT_KEY": "k"}, "GATEWAY_TOTP_KEY"),
        # Emails must not send real people to a developer's localhost.
        (
            {"GATEWAY_JWT_SECRET": "s", "GATEWAY_AUDIT_KEY": "k", "GATEWAY_TOTP_KEY": "t"},
            "GATEWAY_PORTAL_URL",
        ),
        (
            {"GATEWAY_JWT_SECRET": "s", "GATEWAY_AUDIT_KEY": "k", "GATEWAY_ENFORCE": "false"},
            "ENFORCE",
        ),
        (
            {
                "GATEWAY_JWT_SECRET": "s",
                "GATEWAY_AUDIT_KEY": "k",
                "GATEWAY_PASSWORD_HASH_MEMORY_KIB": "1024",
            },
            "argon2id",
        ),
    ],
)
def test_production_refuses_to_start_half_configured(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    problem: str,
) -> None:
    monkeypatch.setenv("GATEWAY_ENV", "production")
    for name in (
        "GATEWAY_JWT_SECRET", "GATEWAY_AUDIT_KEY", "GATEWAY_ENFORCE", "GATEWAY_TOTP_KEY",
        "GATEWAY_PORTAL_URL",
        "GATEWAY_PASSWORD_HASH_TIME_COST", "GATEWAY_PASSWORD_HASH_MEMORY_KIB",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["policy", "check"]) == 2
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize("partner_secret", [None, "a secret for partner tokens only"])
def test_production_starts_with_an_external_identity_provider_instead_of_a_secret(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    partner_secret: str | None,
) -> None:
    """Beside an OIDC provider nobody signs in with a gateway password, so no TOTP key is
    needed even when a secret signs partner clients' tokens."""
    monkeypatch.setenv("GATEWAY_ENV", "production")
    for name in (
        "GATEWAY_JWT_SECRET", "GATEWAY_TOTP_KEY",
        "GATEWAY_PASSWORD_HASH_TIME_COST", "GATEWAY_PASSWORD_HASH_MEMORY_KIB",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    if partner_secret is not None:
        monkeypatch.setenv("GATEWAY_JWT_SECRET", partner_secret)
    for name, value in {
        "GATEWAY_AUDIT_KEY": "k",
        "GATEWAY_JWKS_URL": "https://idp.test/jwks",
        "GATEWAY_JWT_AUDIENCE": "gateway",
        "GATEWAY_JWT_ISSUER": "https://idp.test/",
        "GATEWAY_PORTAL_URL": "https://portal.example.org",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["policy", "check"]) == 0


def test_policy_check_passes_on_the_shipped_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 0


def _policy_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(text)
    monkeypatch.setenv("GATEWAY_POLICY_FILE", str(path))


def test_policy_check_fails_when_a_field_has_no_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [line for line in POLICY.read_text().splitlines() if "Organization.taxIds" not in line]
    _policy_variant(tmp_path, monkeypatch, "\n".join(lines))
    assert main(["policy", "check"]) == 1
    assert "Organization.taxIds: no policy line" in capsys.readouterr().err


def test_policy_check_fails_when_a_rule_names_a_missing_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = POLICY.read_text() + "\np, ACCOUNT_ADMIN, Organization.socialSecurity, read, allow\n"
    _policy_variant(tmp_path, monkeypatch, text)
    assert main(["policy", "check"]) == 1
    assert "Organization.socialSecurity is not a field" in capsys.readouterr().err


def test_policy_check_fails_when_a_non_null_field_is_denied_to_a_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        line
        for line in POLICY.read_text().splitlines()
        if line != "p, SELF, Membership.id, read, allow"
    ]
    _policy_variant(tmp_path, monkeypatch, "\n".join(lines))
    assert main(["policy", "check"]) == 1
    assert "Membership.id: non-null but denied to SELF" in capsys.readouterr().err


def test_audit_verify_reports_an_intact_chain(
    settings: Settings,
    world: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_AUDIT_KEY", "test-audit-key")
    assert main(["audit", "verify"]) == 0
    assert "chain intact" in capsys.readouterr().out
