"""The gateway's command line: serve the GraphQL API, set up its database, and operate it."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import socket
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TypeAlias

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.settings import Settings, get_settings, settings_problems

Command = Callable[[argparse.Namespace, Settings], int]
NeedsDatabase: TypeAlias = "Callable[[argparse.Namespace, Settings], DatabaseUse | None]"
EPILOG = (
    "Settings come from GATEWAY_* environment variables (README.md, 'Settings'); the database "
    "is GATEWAY_DATABASE_URL, by default gateway.db in the current directory."
)


class DatabaseUse(Enum):
    """What a command needs of GATEWAY_DATABASE_URL."""

    EXISTING = "existing"  # it only reads: a missing SQLite file is refused, never created
    CREATE = "create"  # it sets the database up: SQLite creates the file


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:  # never printed itself: it quotes the values, secrets too
        problems = "".join(f"\n  {problem}" for problem in settings_problems(error))
        print(f"gateway: bad settings:{problems}", file=sys.stderr)
        return 2
    except ValueError as error:  # pydantic-settings could not parse one: it names the setting
        print(f"gateway: bad settings: {error}", file=sys.stderr)
        return 2
    return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; a database it cannot reach or use is one line, never a stack trace."""
    command: Command = args.command
    database: DatabaseUse | None = args.database(args, settings)
    if database is None:
        return command(args, settings)
    problem = sqlite_problem(settings.database_url, database)
    if problem is None:
        try:
            return command(args, settings)
        except (SQLAlchemyError, OSError) as error:  # OSError: asyncpg's refused connection
            problem = database_failure(settings.database_url, error)
    print(f"{args.prog}: {problem}", file=sys.stderr)
    return 1


def parser() -> argparse.ArgumentParser:
    """The whole command line (also used by the README test to parse its examples)."""
    root = argparse.ArgumentParser(prog="gateway", description=__doc__, epilog=EPILOG)
    commands = root.add_subparsers(required=True, metavar="COMMAND")

    serve = _command(commands, "serve", _serve, "run the gateway with uvicorn", _demo_creates)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (%(default)s)")
    serve.add_argument(
        "--demo", action="store_true", help="migrate and load the demo world into an empty database"
    )
    _command(commands, "migrate", _migrate, "bring the database schema up to date", _creates)

    seed = _command(commands, "seed", _seed, "load the demo world or a YAML seed file", _creates)
    source = seed.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="the demo world of README.md")
    source.add_argument("--file", type=Path, metavar="PATH", help="a YAML seed file (README.md)")

    token = _command(
        commands, "token", _token, "print a bearer token (development only)", _development_existing
    )
    token.add_argument("username", help="a user of the database")

    policy = _group(commands, "policy", "policy tools")
    _command(policy, "check", _policy_check, "fail unless policy and schema match")

    audit = _group(commands, "audit", "access-log tools")
    verify = _command(audit, "verify", _audit_verify, "check the hash chain", _existing)
    verify.add_argument(
        "--anchor",
        metavar="SEQ:HASH",
        help="printed by an earlier verify; it must still be in the chain",
    )
    _export_parser(audit)

    outbox = _group(commands, "outbox", "emails and letters")
    listing = _command(
        outbox,
        "list",
        _outbox_list,
        "print messages (default: pending), bodies included",
        _existing,
    )
    listing.add_argument(
        "--status",
        action="append",
        choices=["PENDING", "SENT", "FAILED"],
        help="only messages in this status (repeat for several; default PENDING)",
    )
    listing.add_argument(
        "--limit", type=int, default=100, help="print at most this many (%(default)s)"
    )
    _command(outbox, "deliver", _outbox_deliver, "one delivery pass over SMTP", _existing)

    reviews = _group(commands, "reviews", "access reviews")
    _command(
        reviews,
        "enforce",
        _reviews_enforce,
        "R15: expire overdue access reviews (one pass, for a scheduler)",
        _existing,
    )
    return root


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _group(commands: Commands, name: str, summary: str) -> Commands:
    return commands.add_parser(name, help=summary, description=summary).add_subparsers(
        required=True, metavar="COMMAND"
    )


def _command(
    commands: Commands,
    name: str,
    run: Command,
    summary: str,
    database: NeedsDatabase = lambda _args, _settings: None,
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, help=summary, description=summary)
    command.set_defaults(command=run, prog=command.prog, database=database)
    return command


def _existing(_args: argparse.Namespace, _settings: Settings) -> DatabaseUse:
    return DatabaseUse.EXISTING


def _creates(_args: argparse.Namespace, _settings: Settings) -> DatabaseUse:
    return DatabaseUse.CREATE


def _demo_creates(args: argparse.Namespace, _: Settings) -> DatabaseUse | None:
    return DatabaseUse.CREATE if args.demo else None  # plain serve: /readyz tells


def _development_existing(_: argparse.Namespace, settings: Settings) -> DatabaseUse | None:
    return DatabaseUse.EXISTING if settings.is_development else None  # else refused unread


def sqlite_problem(url: str, need: DatabaseUse) -> str | None:
    """Why a SQLite database cannot be used, found before the command starts: a file that does
    not exist (a reading command would create an empty one) or cannot be opened (asked of
    sqlite3 itself: aiosqlite's failed connect outlives the command's event loop)."""
    path = _sqlite_file(url)
    if path is None:
        return None
    if need is DatabaseUse.EXISTING and not path.exists():
        where = "" if Path(make_url(url).database or "").is_absolute() else " in this directory"
        return (
            f"no database at {path} ({_shown(url)}{where}; not created, this command only "
            "reads): run it where the database is, set GATEWAY_DATABASE_URL, or create it "
            "with `gateway migrate`"
        )
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as error:
        return _unreachable(url, _reason(error))
    return None


def database_failure(url: str, error: SQLAlchemyError | OSError) -> str:
    """One line: what failed, at which URL (its password hidden), what to check. Whether the
    database could not be reached is asked again: its errors do not all say so."""
    reason = _reason(error)
    try:
        asyncio.run(_connect(url))
    except (SQLAlchemyError, OSError) as unreachable:
        return _unreachable(url, _reason(unreachable))
    if isinstance(error, OSError):  # lost on the way
        return _unreachable(url, reason)
    return (
        f"the database {_shown(url)} failed ({reason}): check that it is the gateway's "
        "and that `gateway migrate` has brought its schema up to date"
    )


def _unreachable(url: str, reason: str) -> str:
    path = _sqlite_file(url)
    check = (
        f"check that the directory {path.parent} exists and is writable"
        if path is not None
        else "check that the server is running and reachable, and that the database "
        "exists and accepts this user (GATEWAY_DATABASE_URL)"
    )
    return f"cannot connect to the database {_shown(url)} ({reason}): {check}"


def _reason(error: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's adds the statement and its parameters)."""
    cause = (error.orig if isinstance(error, DBAPIError) else None) or error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


async def _connect(url: str) -> None:
    from gateway.data import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") == "true":  # file:...: SQLite's own syntax
        return None
    return Path(parsed.database).absolute()


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _export_parser(audit: Commands) -> None:
    """A4: the whole log by default; each option narrows it (the filters of ``accessLog``)."""
    export = _command(
        audit,
        "export",
        _audit_export,
        "print the log (or the entries asked for) as JSON lines, in chain order",
        _existing,
    )
    export.add_argument(
        "--since",
        type=_time,
        help="ISO 8601; entries of requests at or after it (UTC unless an offset is given)",
    )
    export.add_argument("--until", type=_time, help="ISO 8601; entries of requests before it")
    export.add_argument("--user", type=_log_id, help="the acting user's id")
    export.add_argument("--organization", type=_log_id, help="the organization's id")
    export.add_argument("--object-type", help="the object's GraphQL type, e.g. User")
    export.add_argument("--object-id", help="the object's id (with --object-type)")
    export.add_argument("--field", help="the field read or changed, e.g. email")


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

    taken = _port_taken(args.host, args.port)
    if taken:
        print(f"{args.prog}: {taken}", file=sys.stderr)
        return 1
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


def _port_taken(host: str, port: int) -> str | None:
    """Checked before migrating and seeding, with a hint uvicorn's own error lacks."""
    try:
        with socket.create_server((host, port)):  # SO_REUSEADDR, as uvicorn binds
            return None
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            return None  # uvicorn reports anything else itself
    return (
        f"{host}:{port} is already in use (another gateway or scripts/demo?): stop it, "
        f"or choose a free port, e.g. --port {port + 1}"
    )


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
    from gateway.auth import current_version, mint_token

    if not settings.is_development:
        print("gateway token: refused outside development (GATEWAY_ENV)", file=sys.stderr)
        return 2
    # The token names the user's current token version, so signing out revokes it too (R14).
    version = asyncio.run(current_version(settings, args.username))
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
