"""A Redis for tests: `OKR_TEST_REDIS_URL`, else the one answering on 127.0.0.1:6379, else a
redis-server of the tests' own (Debian's package, installed by tests/kit/install-redis.sh
where it is missing). Where none can be had the test is skipped, except under CI=true,
where it fails."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import pytest
import redis

INSTALL = Path(__file__).with_name("install-redis.sh")
LOCAL_URL = "redis://127.0.0.1:6379"
START_SECONDS = 10.0


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run)")
    pytest.skip(reason)


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def redis_server_binary() -> str:
    if shutil.which("redis-server") is None:
        subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True)
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("no redis-server, and tests/kit/install-redis.sh could not install it")
    return binary


def shared_redis_url() -> tuple[str, "RedisServer | None"]:
    """A Redis to use, and the server started for it (None when one was already there)."""
    configured = os.environ.get("OKR_TEST_REDIS_URL")
    if configured:
        return configured, None
    if answers(LOCAL_URL):
        return LOCAL_URL, None
    server = RedisServer()
    return server.url, server


class RedisServer:
    """A redis-server of its own on a Unix socket (no port to pick or collide on), keeping
    nothing on disk; `pause` freezes it (a hung Redis), `stop` kills it."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        self._folder = tempfile.TemporaryDirectory(prefix="okr-redis-")
        socket = Path(self._folder.name) / "redis.sock"
        self.url = f"unix://{socket}"
        self.process = subprocess.Popen(
            [
                *(binary, "--port", "0", "--unixsocket", str(socket)),
                *("--save", "", "--appendonly", "no", "--dir", self._folder.name),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while not answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                unavailable(f"redis-server did not start within {START_SECONDS:.0f} s")
            time.sleep(0.01)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL: a paused server goes too
            self.process.wait(timeout=10)
        self._folder.cleanup()
