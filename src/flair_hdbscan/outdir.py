"""Output folders owned by one piece of work.

A command that writes a folder (``run --out``, ``predict --out``) first
:func:`claim`s it, before any data is read:

* it must be creatable and writable, with room for the estimated output (checked by writing
  a probe file and reading the free space);
* a lock file (``filelock``) refuses a second writer while the first runs;
* a manifest (``flair-hdbscan.json``) records the kind of output and the identity of the
  work (see :mod:`flair_hdbscan.provenance`). A folder holding another piece of work's
  outputs is refused unless ``overwrite``, which clears them first; a non-empty folder that
  flair-hdbscan did not write is always refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from flair_hdbscan.atomic import fault, write_json
from flair_hdbscan.errors import FaultError, OutputError
from flair_hdbscan.provenance import describe_difference, digest

__all__ = ["LOCK_NAME", "MANIFEST_NAME", "Claim", "check_writable", "claim", "preflight"]

log = logging.getLogger(__name__)

MANIFEST_NAME = "flair-hdbscan.json"
LOCK_NAME = ".flair-hdbscan.lock"
_FORMAT = "flair-hdbscan-output"


def check_writable(path: Path, *, need_bytes: int = 0, what: str = "output") -> None:
    """Refuse an output location that cannot be written or lacks room.

    Args:
        path: a folder to be (or already) created, or a file whose folder is checked.
        need_bytes: estimated size of what will be written there.
        what: what the location is for, for the message.

    Raises:
        FaultError: when the location is under a file, not writable, or too full.
    """
    path = Path(path).expanduser()
    folder = path if path.suffix == "" or path.is_dir() else path.parent
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                pass
        except OSError as exc:
            raise fault(exc, folder, f"write the {what} folder") from None
        free = shutil.disk_usage(folder).free
        if need_bytes and free < need_bytes:
            raise FaultError(
                f"not enough room for the {what} in {folder}: about {_mb(need_bytes)} "
                f"needed, {_mb(free)} free; free some space or choose another folder"
            )
    except FaultError:
        for made in created:  # leave no empty folder behind a refusal
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


def _mb(n: int) -> str:
    """A size in megabytes, with a decimal below 10 MB."""
    return f"{n / 1e6:,.1f} MB" if n < 10_000_000 else f"{n / 1e6:,.0f} MB"


@dataclass
class Claim:
    """A folder claimed for one piece of work (released by :func:`claim`'s context).

    Attributes:
        path: the folder.
        identity: digest of the work's provenance.
        resumed: the folder already held this same work's outputs (resume them).
    """

    path: Path
    identity: str
    resumed: bool


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == _FORMAT else None


def _clear(path: Path) -> None:
    for entry in path.iterdir():
        if entry.name == LOCK_NAME:
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as exc:
            raise fault(exc, entry, "clear") from None


def preflight(path: Path, *, need_bytes: int = 0, flag: str = "--out") -> None:
    """Check, before any work, that the output folder ``path`` can be claimed and written.

    Raises:
        OutputError: when ``path`` is a file.
        FaultError: when it cannot be written or lacks room.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path} is a file: give a folder")
    check_writable(path, need_bytes=need_bytes)


@contextlib.contextmanager
def claim(
    path: Path,
    *,
    kind: str,
    provenance: dict[str, Any],
    overwrite: bool = False,
    need_bytes: int = 0,
    flag: str = "--out",
) -> Iterator[Claim]:
    """Claim ``path`` for one piece of work for the duration of the block.

    Args:
        path: the output folder.
        kind: what it holds (``"run"``, ``"predictions"``).
        provenance: the work's provenance (JSON-ready).
        overwrite: clear another piece of work's outputs instead of refusing.
        need_bytes: estimated size of the outputs.
        flag: the option that named the folder, for messages.

    Yields:
        The :class:`Claim`.

    Raises:
        OutputError: another writer holds the lock, or the folder holds other outputs.
        FaultError: the folder cannot be written or lacks room.
    """
    path = Path(path).expanduser()
    preflight(path, need_bytes=need_bytes, flag=flag)
    identity = digest(provenance)
    lock = FileLock(str(path / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(
            f"another flair-hdbscan command is writing to {path} (lock {path / LOCK_NAME}): "
            f"wait for it to finish or choose another {flag}"
        ) from None
    except OSError as exc:
        raise fault(exc, path / LOCK_NAME, "lock") from None
    try:
        manifest = _read_manifest(path)
        others = [e for e in path.iterdir() if e.name != LOCK_NAME]
        resumed = False
        if manifest is None and others:
            raise OutputError(
                f"{flag} {path} is not empty and was not written by flair-hdbscan: choose a "
                "new or empty folder"
            )
        if manifest is not None:
            same = manifest.get("kind") == kind and manifest.get("identity") == identity
            if same:
                resumed = True
            elif overwrite:
                log.info("clearing %s (--overwrite)", path)
                _clear(path)
            else:
                what = describe_difference(manifest.get("provenance", {}), provenance)
                if manifest.get("kind") != kind:
                    what = f"it holds {manifest.get('kind')} outputs, not {kind}"
                raise OutputError(
                    f"{flag} {path} holds the outputs of other work ({what}): add --overwrite "
                    f"to replace them, or choose another {flag}"
                )
        write_json(
            path / MANIFEST_NAME,
            {"format": _FORMAT, "kind": kind, "identity": identity, "provenance": provenance},
        )
        yield Claim(path, identity, resumed)
    finally:
        # the lock file stays: deleting it would let two later writers lock two files
        lock.release()
