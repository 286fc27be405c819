"""Atomic output: write to a temporary name beside the target, rename when complete.

A command that fails or is interrupted never leaves a half-written file under the final name:
readers see either the previous file or the complete new one. Files and their folder are
flushed to disk (``fsync``) before the rename, so a crash cannot leave a renamed but empty
file either. Environment faults (disk full, read-only folder) become one-line
:class:`~flair_hdbscan.errors.FaultError`s.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flair_hdbscan.errors import FaultError

__all__ = ["atomic_dir", "atomic_path", "fault", "fault_reason", "fsync_path", "write_bytes",
           "write_json", "write_text"]  # fmt: skip

_FAULTS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a path component is a file, not a folder",
    errno.EEXIST: "a file is in the way",
    errno.EISDIR: "a folder is in the way",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EFBIG: "the file would exceed the size this process may write",
}
#: Reasons recognised in the text of an error that carries no errno (GDAL, numpy).
_FAULT_TEXTS = {
    "no space left": errno.ENOSPC,
    "file too large": errno.EFBIG,
    "read-only file system": errno.EROFS,
    "disk quota": errno.EDQUOT,
}


def fault_reason(exc: BaseException, guess: str = "") -> str:
    """Why an operation failed, in a few words, from ``exc`` or the error that caused it.

    Args:
        exc: the error.
        guess: appended to a reason that is not recognised.
    """
    seen = 0
    current: BaseException | None = exc
    texts = []
    while current is not None and seen < 5:
        code = getattr(current, "errno", None)
        if isinstance(code, int) and code in _FAULTS:
            return _FAULTS[code]
        texts.append(" ".join(str(current).split()))
        current = current.__cause__ or current.__context__
        seen += 1
    for text in texts:
        for needle, code in _FAULT_TEXTS.items():
            if needle in text.lower():
                return _FAULTS[code]
    # rasterio says "see previous exception": the cause names the problem
    useful = [t for t in texts if t and "previous exception" not in t.lower()]
    return f"{(useful or texts or ['unknown error'])[0][:160]}{guess}"


def fault(exc: OSError, path: str | os.PathLike[str], action: str = "write") -> FaultError:
    """A one-line :class:`FaultError` for an ``OSError`` met while writing ``path``."""
    return FaultError(
        f"cannot {action} {path}: "
        f"{fault_reason(exc, ' (is the disk full?)' if action == 'write' else '')}; "
        "nothing was written under that name"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file's or a folder's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    Args:
        target: final file path. Its parent folder is created if missing.
        suffix: suffix of the temporary name (defaults to the target's, so that writers that
            choose a format by suffix, such as matplotlib or rasterio, still work).

    Yields:
        The temporary path to write. It is removed if the block raises.

    Raises:
        FaultError: when the folder cannot be created or written (disk full, read-only).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.",
            suffix=target.suffix if suffix is None else suffix,
            dir=target.parent,
        )
        os.close(fd)
    except OSError as exc:
        raise fault(exc, target) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the mode an ordinary open() would
        os.chmod(tmp_path, 0o666 & ~_umask())
        fsync_path(tmp_path)
        os.replace(tmp_path, target)
        fsync_path(target.parent)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise fault(exc, target) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it onto ``target`` on success.

    An existing ``target`` is replaced only once the new folder is complete.

    Raises:
        FaultError: when the parent folder cannot be written.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise fault(exc, target) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "content")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_path(target.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise fault(exc, target) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the path."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``target`` atomically and return the path."""
    return write_text(target, json.dumps(obj, indent=2, allow_nan=False) + "\n")
