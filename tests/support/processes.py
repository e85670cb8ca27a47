"""Real `syndic` processes on loopback, started and stopped by the tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SYNDIC = [sys.executable, "-m", "syndic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A syndic command running in its own working directory."""

    workdir: Path
    env: dict[str, str]
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / f"syndic-{id(self)}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> str:
        """Run a one-shot command; its stdout."""
        done = subprocess.run(
            [*SYNDIC, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"syndic {' '.join(args)} failed: {done.stderr.decode()}")
        return done.stdout.decode().strip()

    def start(self, *args: str) -> None:
        self.port = self.port or free_port()
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [*SYNDIC, *args, "--port", str(self.port)]
                if args[:1] == ("serve",)
                else [*SYNDIC, *args],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                pytest.fail(f"syndic exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"syndic was not ready in {timeout} s:\n{self.log.read_text()}")

    def signal(self, sig: signal.Signals) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 20) -> int | None:
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(5)

    def user_and_key(
        self, tier: str = "max", email: str = "dev@example.test"
    ) -> tuple[str, dict[str, str]]:
        user = json.loads(self.run("users", "create", "--email", email, "--tier", tier))
        key = self.run("keys", "create", "--user", user["id"], "--name", "acceptance")
        return user["id"], {"Authorization": f"Bearer {key}"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDIC_")}
    env.update({"SYNDIC_LOG_FORMAT": "text", "SYNDIC_SCHEDULER_TICK": "5"})
    env.update(extra)
    return env
