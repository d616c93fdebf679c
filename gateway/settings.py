"""Settings read from the environment (prefix ``GATEWAY_``)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.catalog import ORGANIZATION_ROLES

ENV_PREFIX = "GATEWAY_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105
DEVELOPMENT_TOTP_KEY = "development-only-totp-key-change-me-0123456789"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the gateway; defaults suit a developer's laptop."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///gateway.db"
    jwt_secret: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwks_url: str | None = None  # set: bearer tokens come from this OIDC provider
    jwks_refresh_seconds: int = 60  # an unknown kid refetches the JWKS at most this often
    jwt_username_claim: str = "sub"  # or "preferred_username": the claim naming the username
    # The ``iss`` of the gateway's own tokens (sign-in, partner clients): with an OIDC provider
    # too, a token naming this issuer is checked as the gateway's (HS256), any other on the JWKS.
    token_issuer: str = "provider-portal-gateway"  # noqa: S105 - a name, not a secret
    dev_token_ttl_seconds: int = 8 * 3600
    # Key of the access-log hash chain (HMAC). Without it the chain is a plain hash chain.
    audit_key: str | None = None
    audit_retention_days: int = 6 * 366  # A5: at least six years
    # A4: the longest window one `accessLog` query may search (a bounded window stays fast).
    access_log_window_max_days: int = 366
    # Authorization and the access log can only be switched off outside production (benchmarks).
    enforce: bool = True
    # Queries the read planner compiles run as one SQL statement per root field (gateway.reads);
    # false: every operation runs through the resolvers, the reference the planner is held to.
    compiled_reads: bool = True
    page_size_max: int = 100
    page_size_default: int = 20
    max_query_depth: int = 12
    # Cheap requests stay cheap: each limit refuses before anything is validated or run. The
    # body is refused 413 (gateway.http.body); a document over a limit gets QUERY_TOO_COMPLEX
    # (gateway.schema.limits; aliases, directives and cost are counted with fragments expanded).
    max_body_bytes: int = 64 * 1024
    max_query_tokens: int = 2000  # lexical tokens of the document, comments included
    max_operations: int = 10  # operation definitions in one document
    max_aliases: int = 30
    max_directives: int = 50
    max_query_cost: int = 500  # field selections
    policy_model: Path = PROJECT_ROOT / "authz" / "model.conf"
    policy_file: Path = PROJECT_ROOT / "authz" / "policy.csv"
    trust_forwarded_for: bool = False
    # Database timeouts of a serving gateway, in seconds (commands and migrations wait as long
    # as their work takes): a request the database cannot serve answers 503 within a few
    # seconds instead of hanging, and /readyz answers 503 while the access log's lock cannot
    # be taken. Statement and connect timeouts apply to PostgreSQL; the lock timeout is
    # PostgreSQL's lock_timeout and SQLite's busy timeout.
    database_connect_timeout_seconds: PositiveFloat = 5
    database_statement_timeout_seconds: PositiveFloat = 5  # the client gives up 1 s later
    database_lock_timeout_seconds: PositiveFloat = 3
    database_pool_timeout_seconds: PositiveFloat = 5  # waiting for a free pooled connection
    # The access log's group commit (gateway.audit.group_commit): the requests waiting at the
    # same time are appended in one transaction, of at most this many requests and entries (a
    # request with more entries than that is written alone).
    access_log_batch_requests: PositiveInt = 100
    access_log_batch_entries: PositiveInt = 20_000
    # Outbox delivery (gateway.outbox): without an SMTP URL emails stay PENDING, readable with
    # `gateway outbox list`. smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465.
    smtp_url: str | None = None
    smtp_from: str = "Provider Portal <no-reply@localhost>"
    outbox_max_attempts: int = 8  # then FAILED (kept, never deleted)
    outbox_retry_seconds: int = 60  # first retry delay, doubled after each failed attempt
    # The portal front-end: the web application whose pages the emails and letters link to
    # (/register, /activate, /recover-password; gateway.domain.portal_links). The gateway
    # serves the API only: these paths answer 404 on it.
    portal_url: str = "http://localhost:3000"
    # R2: invitations to register.
    invitation_ttl_days: int = 14
    # R14: passwords, lockout and sessions (gateway.auth.passwords, gateway.domain.sign_in).
    password_min_length: int = 12
    # argon2id cost; production refuses less than OWASP's minimum (19 MiB, 2 passes).
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    password_max_age_days: int = 45  # then sign-in only allows changePassword and logout
    max_failed_logins: int = 5  # then LOCKED until an admin or the help desk unlocks it
    session_idle_minutes: int = 15  # HIPAA automatic logoff: access-token life, refresh idle window
    session_max_hours: int = 12  # a refresh-token family ends this long after sign-in, used or not
    # R14: a second factor (TOTP, gateway.auth.second_factor). Members holding one of these roles
    # must enrol before anything else works, e.g. GATEWAY_TOTP_REQUIRED_ROLES=ACCOUNT_ADMIN,
    # FINANCIAL_MANAGER. Anyone may enrol. Secrets are encrypted at rest with GATEWAY_TOTP_KEY
    # (required in production when the gateway signs in users itself).
    totp_required_roles: Annotated[frozenset[str], NoDecode] = frozenset()
    totp_key: str | None = None
    totp_issuer: str = "Provider Portal"  # the name authenticator apps show
    # R1: the master account holder's activation code, mailed to the correspondence address.
    activation_code_ttl_days: int = 15
    activation_max_attempts: int = 5  # wrong codes before the code is spent (then re-issue)
    activation_limit_per_address: str = "10/hour"  # activateAccount, requestActivationCode
    # Partner billing systems: OAuth2 client credentials at /oauth/token (gateway.http.oauth).
    partner_token_minutes: int = 15
    oauth_limit_per_client: str = "30/minute"
    oauth_limit_per_address: str = "60/minute"
    # R13: password recovery by email.
    password_recovery_ttl_minutes: int = 60
    # Sign-in and recovery rate limits (gateway.auth.rate_limits), "N/period" as in `limits`: in
    # Redis when a URL is set (shared by every process), else in this process's memory.
    redis_url: str | None = None  # redis://host:6379/0 (or rediss://)
    rate_limit_key_prefix: str = "gateway"  # of the Redis keys
    login_limit_per_account: str = "10/15 minutes"
    login_limit_per_address: str = "30/minute"
    recovery_limit_per_address: str = "5/hour"  # requestPasswordRecovery and recoverPassword
    registration_limit_per_address: str = "20/hour"  # registerUser: no mass account creation
    # R12, R15: access reviews and dormant accounts.
    review_interval_days: int = 90  # an organization without a completed review since is overdue
    review_response_days: int = 30  # a review's deadline, counted from its start
    review_unanswered_action: Literal["remove", "keep"] = "remove"  # R15: past the deadline
    dormant_after_days: int = 90  # a member without a login for this long is dormant
    # Operations (gateway.http.request_log, gateway.http.tracing). One log line per request, as
    # JSON lines unless "text" (unset: text in development, JSON elsewhere). Traces only with an
    # exporter: "otlp" (OTel's own OTEL_EXPORTER_OTLP_* variables say where; a set
    # OTEL_EXPORTER_OTLP_ENDPOINT alone means "otlp") or "console"; both need the [otel] extra.
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otel_exporter: Literal["otlp", "console"] | None = None
    shutdown_grace_seconds: PositiveInt = 30  # SIGTERM: how long in-flight requests may finish
    # Python's collector, once the app has started: what start-up made is frozen out of its
    # scans, and the youngest generation is collected after this many allocations (Python's
    # default is 700, which a request's short-lived objects pass many times over); 0 leaves
    # Python's default alone.
    gc_threshold: NonNegativeInt = 50_000

    @field_validator("totp_required_roles", mode="before")
    @classmethod
    def _role_list(cls, value: object) -> object:
        """``ACCOUNT_ADMIN,FINANCIAL_MANAGER`` (commas or spaces) as well as a list."""
        roles = frozenset(value.replace(",", " ").split()) if isinstance(value, str) else value
        unknown = sorted(set(roles) - ORGANIZATION_ROLES) if isinstance(roles, frozenset) else []
        if unknown:
            raise ValueError(f"not organization roles: {', '.join(unknown)}")
        return roles

    @field_validator("portal_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// address")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        problems = [*self._identity_problems(), *self._production_problems()]
        if problems:
            raise SettingsProblems(problems)
        return self

    def _identity_problems(self) -> Iterator[str]:
        if self.jwks_url and not (self.jwt_audience and self.jwt_issuer):
            yield "GATEWAY_JWKS_URL needs GATEWAY_JWT_AUDIENCE and GATEWAY_JWT_ISSUER"
        if self.jwks_url and self.jwt_issuer == self.token_issuer:
            yield "GATEWAY_JWT_ISSUER must differ from GATEWAY_TOKEN_ISSUER"

    def _production_problems(self) -> Iterator[str]:
        if self.env is not Environment.PRODUCTION:
            return
        if not self.enforce:
            yield "GATEWAY_ENFORCE=false is refused in production"
        if not self.jwt_secret and not self.jwks_url:
            yield "production needs GATEWAY_JWT_SECRET or GATEWAY_JWKS_URL"
        if self.password_hash_memory_kib < 19456 or self.password_hash_time_cost < 2:
            yield (
                "production needs argon2id of at least 19 MiB and 2 passes "
                "(GATEWAY_PASSWORD_HASH_MEMORY_KIB, GATEWAY_PASSWORD_HASH_TIME_COST)"
            )
        if not self.audit_key:
            yield (
                "production needs GATEWAY_AUDIT_KEY: without it anyone who can write the "
                "database could re-forge the access-log chain"
            )
        if "portal_url" not in self.model_fields_set:
            yield (
                "production needs GATEWAY_PORTAL_URL: invitation, activation and recovery "
                "emails link to the portal's pages there"
            )
        # Beside an OIDC provider the secret signs partner tokens only: no one signs in.
        if self.jwt_secret and not self.jwks_url and not self.totp_key:
            yield (
                "production needs GATEWAY_TOTP_KEY when it signs users in itself: second "
                "factor secrets are encrypted with it (R14)"
            )

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def signing_secret(self) -> str:
        """The HS256 secret; development falls back to a fixed, well-known one."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.is_development:
            return DEVELOPMENT_JWT_SECRET
        raise RuntimeError("GATEWAY_JWT_SECRET is not set")

    @property
    def totp_encryption_key(self) -> str | None:
        """The key second-factor secrets are encrypted with; development falls back to a fixed,
        well-known one. None: no second factor here (production with an external provider)."""
        if self.totp_key:
            return self.totp_key
        return DEVELOPMENT_TOTP_KEY if self.is_development else None

    @property
    def chain_key(self) -> bytes:
        return (self.audit_key or "").encode()


class SettingsProblems(ValueError):
    """Every problem of the settings as a whole, found at once (not the first only)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def settings_problems(error: ValidationError) -> list[str]:
    """What is wrong, each problem by its setting's name and never with the value given:
    pydantic's own message quotes the input, which may hold a secret (GATEWAY_JWT_SECRET)."""
    problems: list[str] = []
    for detail in error.errors(include_url=False, include_input=False):
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, SettingsProblems):
            problems.extend(cause.problems)
        elif detail["loc"]:
            problems.append(f"{ENV_PREFIX}{str(detail['loc'][0]).upper()}: {detail['msg']}")
        else:
            problems.append(detail["msg"])
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
