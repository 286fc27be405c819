"""Progress of long work: bars on a terminal, timestamped plain lines otherwise.

:class:`Progress` gives each stage (reading the training sample, fitting an experiment,
predicting every pixel) a callable that advances it by one step. On a terminal the stages
are rich progress bars; when standard error is not a terminal (a log file, CI, a batch job)
each stage prints a timestamped line when it starts, about every 10 % or 30 seconds of
progress, and when it ends, so that long work is never silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Progress", "quiet"]

Advance = Callable[[], None]


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


class _PlainStage:
    def __init__(self, out: TextIO, description: str, total: int | None) -> None:
        self.out = out
        self.description = description
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.last = self.start
        self.last_done = 0
        what = f" ({total:,} steps)" if total and total > 1 else ""
        self._line(f"{description}{what}")

    def _line(self, text: str) -> None:
        self.out.write(f"[{_stamp()}] {text}\n")
        self.out.flush()

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        elapsed = now - self.start
        if self.total is not None and self.done >= self.total:
            if self.total > 1 or elapsed >= 1:
                self._line(f"{self.description}: done ({self.done:,}) in {elapsed:.0f} s")
            return
        step = max(1, (self.total or 10) // 10)
        if self.done - self.last_done >= step or now - self.last >= 30:
            share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
            of = f"/{self.total:,}" if self.total else ""
            self._line(f"{self.description}: {self.done:,}{of}{share}, {elapsed:.0f} s")
            self.last, self.last_done = now, self.done


class Progress:
    """Progress of the stages of one command, on standard error.

    Use as a context manager; :meth:`stage` returns the callable that advances a stage.

    Args:
        enabled: show progress at all (None: yes).
        terminal: draw bars (None: when standard error is a terminal).
    """

    def __init__(self, *, enabled: bool | None = None, terminal: bool | None = None) -> None:
        self.enabled = True if enabled is None else enabled
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled and self.terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def stage(self, description: str, total: int | None = None) -> Advance:
        """Start a stage of ``total`` steps; returns the callable that advances it."""
        if not self.enabled:
            return lambda: None
        if self._bar is not None:
            task = self._bar.add_task(description, total=total)
            return lambda: self._bar.advance(task)
        return _PlainStage(sys.stderr, description, total).advance

    def note(self, text: str) -> None:
        """A one-line message between stages (e.g. a one-time compilation notice)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            sys.stderr.write(f"[{_stamp()}] {text}\n")
            sys.stderr.flush()


def quiet() -> Progress:
    """A :class:`Progress` that shows nothing (library default)."""
    return Progress(enabled=False)
