"""A real `timeline serve` process on a free local port, for the tests of the HTTP API.

The server is the installed `timeline` command, as a user starts it: uvicorn
binds port 0 and prints the port it got, which is read from its log.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import httpx

TOKEN = "test-write-token"
_RUNNING = re.compile(r"Uvicorn running on (http://\S+)")


@attrs.define
class Server:
    """A running server: its base URL, and its log so far."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    @property
    def log(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def serving(
    db_url: str, *, token: str | None = TOKEN, options: Sequence[str] = ()
) -> Iterator[Server]:
    """`timeline serve` on `db_url` until the block ends."""
    env = {key: value for key, value in os.environ.items() if key != "TIMELINE_WRITE_TOKEN"}
    if token is not None:
        env["TIMELINE_WRITE_TOKEN"] = token
    command = [str(Path(sys.executable).parent / "timeline"), "serve", "--db", db_url]
    process = subprocess.Popen(
        [*command, "--port", "0", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[str] = []
    found: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if match := _RUNNING.search(line):
                found.put(match.group(1))
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        try:
            url = found.get(timeout=60)
        except queue.Empty:
            url = None
        if url is None:
            raise AssertionError(f"the server did not start:\n{''.join(lines)}")
        # With --workers the address is bound before a worker listens on it.
        wait_until(lambda: _listening(url), timeout=60)
        yield Server(url=url, process=process, lines=lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=5)
    except httpx.TransportError:
        return False
    return True


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `condition()` until it is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
