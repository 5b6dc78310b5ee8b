"""OS processes of the harness: started in their own process group, signalled, reaped.

Every child dies with the harness (``PR_SET_PDEATHSIG`` on Linux), and `close()`
kills its whole process group, so no gateway, agent or server outlives a run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ManagedProcess", "ProcessEvent", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: be killed when the harness dies (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class ProcessEvent:
    """Something that happened to a process: a start, an exit, a restart, a signal."""

    at: float
    process: str
    what: str


@dataclass
class ManagedProcess:
    """A child process the harness starts, signals, supervises and restarts."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    on_event: Callable[[ProcessEvent], None] = lambda _event: None
    restarts: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    expected_exit: bool = False
    """Set while the harness itself kills the process (not a crash)."""
    stdin_pipe: bool = False
    """Give the process a pipe on stdin (`write_line`)."""

    @property
    def pid(self) -> int | None:
        """Process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start it (output appended to its log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self._proc = subprocess.Popen(
                list(self.argv),
                env=self.env,
                stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.expected_exit = False
        self._event("started")

    def _event(self, what: str) -> None:
        self.on_event(ProcessEvent(time.time(), self.name, what))

    def write_line(self, line: str) -> None:
        """Write one line to its stdin."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError(f"{self.name} has no stdin pipe")
        self._proc.stdin.write(line.encode() + b"\n")
        self._proc.stdin.flush()

    def running(self) -> bool:
        """True while the process exists (a stopped process is running)."""
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        """Its exit code once it ended, else None."""
        return self._proc.poll() if self._proc is not None else None

    def send_signal(self, sig: signal.Signals) -> None:
        """Send `sig` to its process group (SIGKILL/SIGTERM are expected exits)."""
        if self._proc is None:
            return
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.expected_exit = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)
        self._event(f"signal {sig.name}")

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` s for it to end; its exit code, or None if it still runs."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def restart(self, why: str) -> None:
        """Reap it and start it again (the harness acting as a supervisor)."""
        self.close()
        self.restarts += 1
        self._event(f"restarted ({why})")
        self.start()

    def supervise(self) -> str | None:
        """Restart it if it ended on its own; a description of the exit, else None."""
        code = self.exit_code()
        if code is None or self.expected_exit:
            return None
        what = f"exited on its own with code {code}"
        self._event(what)
        self.restart(what)
        return what

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        if self.running():
            self.send_signal(signal.SIGCONT)
            self.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.close()

    def close(self) -> None:
        """Kill its process group and reap it."""
        if self._proc is None:
            return
        self.expected_exit = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._proc = None

    def log_tail(self, lines: int = 20) -> str:
        """The end of its log (for reports of a failure)."""
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
