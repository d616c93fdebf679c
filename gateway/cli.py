"""The ``gateway`` command line (SPEC section 4)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from gateway.settings import Settings, get_settings, settings_problems

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:  # never printed itself: it quotes the values, secrets too
        problems = "".join(f"\n  {problem}" for problem in settings_problems(error))
        print(f"gateway: bad settings:{problems}", file=sys.stderr)
        return 2
    except ValueError as error:  # pydantic-settings could not parse one: it names the setting
        print(f"gateway: bad settings: {error}", file=sys.stderr)
        return 2
    command: Command = args.command
    return command(args, settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="migrate and load the demo world first")
    serve.set_defaults(command=_serve)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        command=_migrate
    )

    seed = commands.add_parser("seed", help="load the demo world or a YAML seed file")
    source = seed.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true")
    source.add_argument("--file", type=Path)
    seed.set_defaults(command=_seed)

    token = commands.add_parser("token", help="print a bearer token (development only)")
    token.add_argument("username")
    token.set_defaults(command=_token)

    policy = commands.add_parser("policy", help="policy tools").add_subparsers(required=True)
    policy.add_parser("check", help="fail unless policy and schema match").set_defaults(
        command=_policy_check
    )

    audit = commands.add_parser("audit", help="access-log tools").add_subparsers(required=True)
    verify = audit.add_parser("verify", help="check the hash chain")
    verify.add_argument(
        "--anchor", help="SEQ:HASH printed by an earlier verify; it must still be in the chain"
    )
    verify.set_defaults(command=_audit_verify)
    _export_parser(audit)

    outbox = commands.add_parser("outbox", help="emails and letters").add_subparsers(required=True)
    listing = outbox.add_parser("list", help="print messages (default: pending), bodies included")
    listing.add_argument("--status", action="append", choices=["PENDING", "SENT", "FAILED"])
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(command=_outbox_list)
    outbox.add_parser("deliver", help="one delivery pass over SMTP").set_defaults(
        command=_outbox_deliver
    )
    reviews = commands.add_parser("reviews", help="access reviews").add_subparsers(required=True)
    reviews.add_parser(
        "enforce", help="R15: expire overdue access reviews (one pass, for a scheduler)"
    ).set_defaults(command=_reviews_enforce)
    return parser


def _export_parser(audit: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """A4: the whole log by default; each option narrows it (the filters of ``accessLog``)."""
    export = audit.add_parser(
        "export", help="print the log (or the entries asked for) as JSON lines"
    )
    export.add_argument(
        "--since",
        type=_time,
        help="ISO 8601; entries of requests at or after it (UTC unless an offset is given)",
    )
    export.add_argument("--until", type=_time, help="ISO 8601; entries of requests before it")
    export.add_argument("--user", type=_log_id, help="the acting user's id")
    export.add_argument("--organization", type=_log_id, help="the organization's id")
    export.add_argument("--object-type", help="e.g. User")
    export.add_argument("--object-id")
    export.add_argument("--field", help="e.g. email")
    export.set_defaults(command=_audit_export)


def _time(text: str) -> datetime:
    from gateway.audit import as_utc

    try:
        return as_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _log_id(text: str) -> int:
    from gateway.data import as_id

    key = as_id(text)
    if key is None:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}")
    return key


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    import uvicorn

    from gateway.http import configure_logging, create_app

    if args.demo:
        _migrate(args, settings)
        from gateway.seeding import seed_demo_if_empty

        asyncio.run(seed_demo_if_empty(settings))
    configure_logging(settings)
    # uvicorn handles SIGTERM (a graceful stop), then raises it again once stopped, which would
    # end the process by the signal; a graceful stop is a success: exit 0 instead.
    signal.signal(signal.SIGTERM, _exit_0)
    # The client's address is the gateway's to decide (GATEWAY_TRUST_FORWARDED_FOR, in
    # Runtime.client_address): uvicorn's own proxy headers would trust X-Forwarded-For from
    # 127.0.0.1 whatever that setting says.
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        proxy_headers=False,
        forwarded_allow_ips=[],
        # Logging as configured above; the gateway's own line per request replaces uvicorn's.
        log_config=None,
        access_log=False,
        # SIGTERM: stop accepting, let in-flight requests finish (with their access-log
        # appends) for this long, then the app's shutdown disposes the database.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return 0


def _exit_0(*_: object) -> None:
    raise SystemExit(0)


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    from gateway.migrate import upgrade

    upgrade(settings)
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.seeding import SeedError, seed_demo, seed_file

    try:
        if args.demo:
            summary = asyncio.run(seed_demo(settings))
        else:
            summary = asyncio.run(seed_file(settings, args.file))
    except SeedError as error:
        print(f"gateway seed: {error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.auth import current_version, mint_token

    if not settings.is_development:
        print("gateway token: refused outside development (GATEWAY_ENV)", file=sys.stderr)
        return 2
    # The token names the user's current token version, so signing out revokes it too (R14).
    try:
        version = asyncio.run(current_version(settings, args.username))
    except SQLAlchemyError:
        print("gateway token: cannot read the users (run `gateway migrate`?)", file=sys.stderr)
        return 1
    if version is None:
        print(f"gateway token: no user {args.username!r} in the database", file=sys.stderr)
        return 1
    print(mint_token(settings, args.username, version=version))
    return 0


def _policy_check(_: argparse.Namespace, settings: Settings) -> int:
    from gateway.authz import check_policy
    from gateway.schema import build_schema, object_types, schema_fields

    schema = build_schema(settings)
    problems = check_policy(settings, schema_fields(schema), object_types(schema))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"policy check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        "policy check: every schema field has a rule, every rule names a field, "
        "every type declares its scope"
    )
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.audit import verify_chain
    from gateway.data import Database

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            report = await verify_chain(db, settings.chain_key, anchor=args.anchor)
        finally:
            await db.dispose()
        if report.problem is not None:
            print(
                f"audit verify: FAILED at {report.problem} "
                f"({report.checked} entries intact before it)",
                file=sys.stderr,
            )
            return 1
        print(f"audit verify: {report.checked} entries, chain intact; anchor {report.anchor}")
        return 0

    return asyncio.run(run())


def _audit_export(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.audit import LogFilter, export_entries
    from gateway.data import Database

    if args.since is not None and args.until is not None and args.until < args.since:
        print("audit export: --until is before --since", file=sys.stderr)
        return 2
    log_filter = LogFilter(
        since=args.since,
        until=args.until,
        user_id=args.user,
        organization_id=args.organization,
        object_type=args.object_type,
        object_id=args.object_id,
        field=args.field,
    )

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async for entry in export_entries(db, log_filter):
                sys.stdout.write(json.dumps(entry, separators=(",", ":")) + "\n")
        finally:
            await db.dispose()
        return 0

    return asyncio.run(run())


def _outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.data import Database
    from gateway.outbox import OutboxStatus, describe, messages

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            statuses = [OutboxStatus(s) for s in args.status or ["PENDING"]]
            for message in await messages(db, statuses=statuses, limit=args.limit):
                sys.stdout.write(describe(message) + "\n")
        finally:
            await db.dispose()
        return 0

    return asyncio.run(run())


def _outbox_deliver(_: argparse.Namespace, settings: Settings) -> int:
    from gateway.data import Database
    from gateway.outbox import deliver_pending

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            report = await deliver_pending(db, settings)
        finally:
            await db.dispose()
        print(f"outbox deliver: {report}")
        return 0

    try:
        return asyncio.run(run())
    except ValueError as error:  # a malformed GATEWAY_SMTP_URL
        print(f"outbox deliver: {error}", file=sys.stderr)
        return 2


def _reviews_enforce(_: argparse.Namespace, settings: Settings) -> int:
    from gateway.data import Database
    from gateway.domain.review_deadlines import enforce_overdue_reviews

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            expired = await enforce_overdue_reviews(db, settings)
        finally:
            await db.dispose()
        for review in expired:
            print(f"reviews enforce: {review}")
        print(f"reviews enforce: {len(expired)} overdue review(s) expired")
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
