"""``gateway serve`` as a real process on a free port, for tests that need uvicorn itself."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_GUARD_SECONDS = 120  # a hang guard: up in seconds, migrating the demo world included


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def start(env: Mapping[str, str], port: int, log: Path, *options: str) -> subprocess.Popen[bytes]:
    """``gateway serve --port PORT [options]`` with ``env``, its output in ``log``."""
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *options]
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own command line
            command, env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_GUARD_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "gateway serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("gateway serve did not answer /healthz")


@contextmanager
def serving(env: Mapping[str, str], log: Path, *options: str) -> Iterator[str]:
    """The URL of a started ``gateway serve``, stopped (SIGTERM) when the block ends."""
    with serving_several(env, [log], *options) as (url,):
        yield url


@contextmanager
def serving_several(
    env: Mapping[str, str], logs: Sequence[Path], *options: str
) -> Iterator[list[str]]:
    """The URLs of one ``gateway serve`` per log (started together, each on a port of its own),
    stopped (SIGTERM) when the block ends."""
    ports = [free_port() for _ in logs]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, log in zip(ports, logs, strict=True):
            processes.append(start(env, port, log, *options))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            wait_until_up(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
