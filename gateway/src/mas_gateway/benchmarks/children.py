"""Child processes of the gateway benchmark, and the clear errors they end with.

A worker speaks one JSON object per line on stdout and reads one word per line on
stdin (see `worker`); its stderr goes to a log file whose last lines are quoted
when it fails. Every child dies with the benchmark (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from .chaos.procs import die_with_parent

__all__ = ["BenchError", "Child", "log_tail"]

TAIL_LINES = 8


class BenchError(RuntimeError):
    """The benchmark could not measure: a process failed, or messages went missing."""


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log file, for an error message ('' when there are none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n    ".join(tail)


class Child:
    """One worker process: started, told words, read events from, reaped."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:  # the child keeps its own descriptor
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                preexec_fn=die_with_parent,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=self._pump, args=(self._proc.stdout,), daemon=True).start()

    @property
    def pid(self) -> int:
        """Its process id."""
        return self._proc.pid

    def _pump(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._lines.put(line)
        except (OSError, ValueError):  # closed by `kill()`
            pass
        finally:
            self._lines.put(None)

    def failure(self, what: str) -> BenchError:
        """An error naming this process, what went wrong and the end of its log."""
        tail = log_tail(self.log_path)
        return BenchError(
            f"{self.name} {what}" + (f"; its last output:\n    {tail}" if tail else "")
        )

    def expect(
        self, event: str, timeout_s: float, check: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """The next line that carries `event`; `BenchError` if the process ends or is late.

        `check` runs about once a second while waiting (it raises to give up early).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if check is not None:
                check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.failure(f"sent no {event!r} within {timeout_s:.0f} s")
            try:
                line = self._lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                code = self._proc.wait()
                raise self.failure(f"exited with code {code} before reporting {event!r}")
            if line.startswith("{"):
                message: dict[str, Any] = json.loads(line)
                if message.get("event") == event:
                    return message

    def tell(self, word: str) -> None:
        """Write one word to its stdin (ignored once it has ended)."""
        stdin = self._proc.stdin
        if stdin is None or self._proc.poll() is not None:
            return
        try:
            stdin.write(word + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def finish(self, timeout_s: float) -> None:
        """Wait for a clean exit; `BenchError` on a failure or when it does not end."""
        try:
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise self.failure(f"did not exit within {timeout_s:.0f} s") from None
        if code != 0:
            raise self.failure(f"exited with code {code}")

    def kill(self) -> None:
        """End it now, if it still runs, and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
