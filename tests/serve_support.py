"""`imgpipe serve` as a subprocess, started as a user starts it: on free ports, up once its banner ends
("Ctrl-C to stop."), stopped by Ctrl-C (SIGINT).  A thread reads its output as it comes, so waiting
for a line never blocks past its deadline and a full pipe never stalls the server."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from imgpipe.paths import checkout_root

IMGPIPE = (sys.executable, "-m", "imgpipe.cli")
START_DEADLINE_S = 90


class ServeProcess:
    """``imgpipe serve --port 0 --aws-port 0 <options>``, run from the checkout."""

    def __init__(self, *options: str, env: dict[str, str] | None = None, command: Sequence[str] = IMGPIPE) -> None:
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--aws-port", "0", *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, cwd=checkout_root(),
        )  # fmt: skip
        self.lines: list[str] = []
        self._received: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._interrupted = False

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._received.put(line)

    def output(self) -> str:
        """Everything it has printed so far."""
        while True:
            try:
                self.lines.append(self._received.get_nowait())
            except queue.Empty:
                return "".join(self.lines)

    def wait_for(self, pattern: str, deadline: float | None = None) -> re.Match[str]:
        """The first match of ``pattern`` (re.M) in its output, waited for until ``deadline`` (a
        time.monotonic() value; START_DEADLINE_S from now by default).  Fails with the output so far
        when the deadline passes or the process ends without printing it."""
        deadline = time.monotonic() + START_DEADLINE_S if deadline is None else deadline
        while True:
            if match := re.search(pattern, self.output(), re.M):
                return match
            remaining = deadline - time.monotonic()
            ended = self.process.poll() is not None
            if ended:
                self._reader.join(timeout=5)  # what it printed before it ended, to the last line
                if match := re.search(pattern, self.output(), re.M):
                    return match
            if ended or remaining <= 0:
                how = f"exited with {self.process.returncode}" if ended else "did not print it in time"
                raise AssertionError(f"imgpipe serve {how}, waiting for {pattern!r}:\n{self.output()}")
            with contextlib.suppress(queue.Empty):
                self.lines.append(self._received.get(timeout=min(remaining, 0.5)))

    def up(self, deadline: float | None = None) -> ServeProcess:
        """This server, once its banner has ended."""
        self.wait_for(r"^Ctrl-C to stop", deadline)
        return self

    @property
    def api_url(self) -> str:
        return self.wait_for(r"^\s+API\s+(http://\S+)")[1]

    @property
    def aws_endpoint(self) -> str:
        return self.wait_for(r"^\s+AWS endpoint\s+(http://\S+)")[1]

    @property
    def aws_port(self) -> int:
        return int(self.aws_endpoint.rsplit(":", 1)[1])

    def interrupt(self) -> None:
        """Ctrl-C, once (several servers can be told at once and then waited for)."""
        if not self._interrupted and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self._interrupted = True

    def stop(self) -> int | None:
        """Ctrl-C, as a user stops it: its exit status, or None when it had to be killed after 30 s."""
        self.interrupt()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


@contextlib.contextmanager
def serving(*options: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """A server that is up for the block and stopped after it."""
    server = ServeProcess(*options, env=env)
    try:
        yield server.up()
    finally:
        server.stop()
