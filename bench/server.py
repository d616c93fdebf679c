"""The gateway under test: ``gateway serve`` in a subprocess, on a free loopback port."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from database import BenchDatabase, gateway_command, gateway_env

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


class GatewayServer:
    """Runs the gateway with enforcement ON or OFF; its output goes to ``log_path``."""

    def __init__(self, db: BenchDatabase, *, enforce: bool, log_path: Path) -> None:
        self.db = db
        self.enforce = enforce
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def __aenter__(self) -> GatewayServer:
        self._start()
        await self._wait_healthy()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        env = gateway_env(self.db, GATEWAY_ENFORCE="true" if self.enforce else "false")
        command = [*gateway_command(), "serve", "--host", HOST, "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"gateway exited at start-up:\n{self.log_tail()}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gateway not healthy after {START_TIMEOUT_SECONDS}s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
