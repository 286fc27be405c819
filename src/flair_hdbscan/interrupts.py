"""Ctrl-C while compiled code runs: end the command cleanly instead of crashing.

Python delivers Ctrl-C as a ``KeyboardInterrupt`` raised between two bytecodes. When the
main thread is inside numba-compiled code (HDBSCAN's spanning tree), that exception can be
raised inside a call numba makes back into Python: numba then returns a result with an
exception set (``SystemError: CPUDispatcher(...) returned a result with an exception
set``), or the process dies of a segmentation fault.

The library marks such code with :func:`native_section`, which by itself changes nothing.
A command line installs :func:`interrupt_handler` for the whole command: outside a native
section Ctrl-C raises ``KeyboardInterrupt`` as usual (``finally`` blocks run, partial
files are removed); inside one the handler prints one line and ends the process at once
with status 130. Nothing is being written during a native section, and whatever was
finished before it is already on disk (every output is written atomically).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["in_native_section", "interrupt_handler", "native_section"]

_depth = 0


@contextlib.contextmanager
def native_section() -> Iterator[None]:
    """Mark a block of compiled code that a ``KeyboardInterrupt`` must not enter."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def in_native_section() -> bool:
    """Whether the main thread is inside a :func:`native_section`."""
    return _depth > 0


@contextlib.contextmanager
def interrupt_handler(message: str, status: int = 130) -> Iterator[None]:
    """Handle Ctrl-C for the duration of the block (main thread only; else a no-op).

    Args:
        message: the line printed on standard error when Ctrl-C ends a native section.
        status: exit status of the process in that case.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if not in_native_section():
            raise KeyboardInterrupt
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(OSError):
            os.write(2, f"{message}\n".encode())
        os._exit(status)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
