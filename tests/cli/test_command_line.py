"""The command line speaks to its user: one clear line when the database cannot be used, help
text for every option, and no database file created by a command that only reads."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli import main, parser
from gateway.settings import get_settings

UNREACHABLE_POSTGRESQL = "postgresql+asyncpg://gateway:s3cret-pw@127.0.0.1:1/gateway"
DATABASE_COMMANDS = [
    ["migrate"],
    ["token", "admin"],
    ["seed", "--demo"],
    ["audit", "verify"],
    ["audit", "export"],
    ["outbox", "list"],
]
READING_COMMANDS = [
    ["token", "admin"],
    ["audit", "verify"],
    ["audit", "export"],
    ["outbox", "list"],
]


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GATEWAY_ENV", "development")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(
    argv: list[str], url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    status = main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    return status, captured.err


@pytest.mark.parametrize("argv", DATABASE_COMMANDS, ids=" ".join)
def test_an_unreachable_postgresql_is_one_line_without_its_password(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(argv, UNREACHABLE_POSTGRESQL, monkeypatch, capsys)
    assert status == 1
    assert err.count("\n") == 1, err
    assert err.startswith(f"{parser().parse_args(argv).prog}: ")
    assert "cannot connect to the database" in err
    assert "postgresql+asyncpg://gateway:***@127.0.0.1:1/gateway" in err
    assert "s3cret-pw" not in err
    assert "check that the server is running" in err


@pytest.mark.parametrize("argv", DATABASE_COMMANDS, ids=" ".join)
def test_a_sqlite_file_in_a_missing_directory_is_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-such-directory"
    status, err = run(argv, f"sqlite+aiosqlite:///{missing}/gateway.db", monkeypatch, capsys)
    assert status == 1
    assert err.count("\n") == 1, err
    assert str(missing) in err
    # Commands that set the database up say which directory to create; readers refuse first.
    expected = "no database at" if argv in READING_COMMANDS else "exists and is writable"
    assert expected in err
    assert not missing.exists()


@pytest.mark.parametrize("argv", READING_COMMANDS, ids=" ".join)
def test_a_reading_command_never_creates_a_sqlite_file(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    status, err = run(argv, "sqlite+aiosqlite:///gateway.db", monkeypatch, capsys)
    assert status == 1
    assert err.count("\n") == 1, err
    assert f"no database at {tmp_path / 'gateway.db'}" in err
    assert "gateway migrate" in err
    assert list(tmp_path.iterdir()) == []


def test_migrate_creates_the_sqlite_file_the_readers_then_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "sqlite+aiosqlite:///gateway.db"
    assert run(["migrate"], url, monkeypatch, capsys)[0] == 0
    assert (tmp_path / "gateway.db").exists()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    assert main(["outbox", "list"]) == 0


@pytest.mark.parametrize("argv", READING_COMMANDS, ids=" ".join)
def test_a_database_without_the_gateways_schema_is_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "other.db").touch()  # an empty SQLite database: no tables
    url = f"sqlite+aiosqlite:///{tmp_path}/other.db"
    status, err = run(argv, url, monkeypatch, capsys)
    assert status == 1
    assert err.count("\n") == 1, err
    assert "no such table" in err and "gateway migrate" in err


def test_the_installed_command_prints_one_line_not_a_stack_trace(tmp_path: Path) -> None:
    gateway = Path(sys.executable).parent / "gateway"
    env = {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": UNREACHABLE_POSTGRESQL,
    }
    done = subprocess.run(  # noqa: S603 - our own command line
        [str(gateway), "audit", "verify"], env=env, capture_output=True, text=True, check=False,
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and "s3cret-pw" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_names_a_taken_port_and_how_to_choose_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = ["serve", "--demo", "--port", str(port)]
        status, err = run(argv, f"sqlite+aiosqlite:///{tmp_path}/demo.db", monkeypatch, capsys)
    assert status == 1
    assert f"127.0.0.1:{port} is already in use" in err
    assert f"--port {port + 1}" in err


def every_parser(command: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_parser(sub)


@pytest.mark.parametrize("command", list(every_parser(parser())), ids=lambda p: p.prog)
def test_help_is_plain_text_and_explains_every_option(command: argparse.ArgumentParser) -> None:
    text = command.format_help()
    assert "``" not in text and "SPEC" not in text
    assert command.description, command.prog
    for action in command._actions:
        if action.option_strings or action.dest not in ("command", "==SUPPRESS=="):
            assert action.help, f"{command.prog} {action.option_strings or action.dest}"


def test_help_opens_with_what_the_gateway_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.startswith("The gateway's command line: serve the GraphQL API")
    assert "GATEWAY_DATABASE_URL" in out
