"""Progress on rank 0: a live bar on a terminal, a log line in a batch job."""

from __future__ import annotations

import sys
import time

#: Seconds between redraws of the live bar.
BAR_SECONDS = 0.25
#: Seconds between log lines when stderr is not a terminal (Slurm logs).
LOG_SECONDS = 10.0


def _hms(s: float) -> str:
    if s != s or s == float("inf"):
        return "--:--"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class Progress:
    """Report done/total, rate and ETA.

    Parameters
    ----------
    total
        Tasks this run has to finish.
    stream
        Where to write (stderr by default).
    enabled
        False silences it (tests, ``--quiet``).
    """

    def __init__(self, total: int, stream=None, enabled: bool = True, label: str = "tasks"):
        self.total, self.stream, self.enabled, self.label = total, stream or sys.stderr, enabled, label
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self.last = time.monotonic()
        self.done = self.failed = 0

    def line(self) -> str:
        """The current status as one line of text."""
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        left = self.total - self.done - self.failed
        eta = left / rate if rate > 0 else float("inf")
        pct = 100.0 * (self.done + self.failed) / self.total if self.total else 100.0
        width = 30
        fill = int(width * pct / 100)
        bar = "#" * fill + "-" * (width - fill)
        fail = f", {self.failed} failed" if self.failed else ""
        return (f"[{bar}] {self.done + self.failed}/{self.total} {self.label} ({pct:5.1f}%{fail}) "
                f"{rate:,.1f}/s elapsed {_hms(el)} eta {_hms(eta)}")

    def update(self, done: int, failed: int = 0, force: bool = False) -> None:
        """Record counts; redraw or log when it is time."""
        self.done, self.failed = done, failed
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < (BAR_SECONDS if self.live else LOG_SECONDS):
            return
        self.last = now
        if self.live:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(time.strftime("%H:%M:%S ") + self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self.update(self.done, self.failed, force=True)
            if self.live:
                self.stream.write("\n")
                self.stream.flush()
