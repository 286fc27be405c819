"""Provenance: what an artefact was made from, as one digest.

Every artefact (the resume state of a run, a model file, ``results.json``, a prediction
folder's manifest) records an identity built here from

* the data: every file a split uses, by name, size and modification time
  (:func:`data_digest`; ``content=True`` hashes the bytes instead, for a file corrected in
  place with its size and time kept);
* the options and experiments;
* the code: flair-hdbscan's version and a digest of its own source files, and the versions
  of the packages that shape results.

Resuming, or writing into a folder made by another run, is allowed only when the identity
is the same (:func:`describe_difference` says what changed).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from flair_hdbscan import __version__
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.errors import DataError

__all__ = [
    "KEY_PACKAGES",
    "code_digest",
    "data_digest",
    "describe_difference",
    "digest",
    "package_versions",
    "split_files",
]

#: Packages whose versions can change a result.
KEY_PACKAGES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "scikit-learn",
    "fast_hdbscan",
    "hdbscan",
    "numba",
    "rasterio",
)

_CHUNK = 1 << 20


def digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys), 64 hexadecimal characters."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_files(ds: FlairDataset) -> Iterator[tuple[str, Path]]:
    """``(name, path)`` of every file a split uses, each once.

    Names are relative to the split's modality folders
    (``aerial/D004_2021/Z1_NN/img/IMG_077413.tif``).
    """
    seen_areas: set[str] = set()
    paths = ds.paths

    def rel(kind: str, path: Path) -> str:
        return f"{kind}/{path.relative_to(getattr(paths, kind)).as_posix()}"

    for ref in ds.patches:
        yield rel("aerial", ref.aerial), ref.aerial
        if ref.mask is not None:
            yield rel("labels", ref.mask), ref.mask
        if ref.area not in seen_areas:
            seen_areas.add(ref.area)
            for path in (ref.sen_data, ref.sen_masks, ref.sen_products):
                yield rel("sen", path), path
    yield "centroids", paths.centroids


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def data_digest(ds: FlairDataset, *, content: bool = False) -> str:
    """Identity of a split's data.

    Args:
        ds: the split.
        content: hash every file's bytes (slow on the full release) instead of taking its
            size and modification time.

    Returns:
        64 hexadecimal characters; any added, removed, renamed, resized, touched (or, with
        ``content``, edited) file changes it.

    Raises:
        DataError: if a file vanished or cannot be read.
    """
    h = hashlib.sha256(f"split\t{ds.split}\tcontent\t{content}\n".encode())
    for name, path in split_files(ds):
        try:
            if content:
                entry = f"{name}\t{_hash_file(path)}"
            else:
                st = path.stat()
                entry = f"{name}\t{st.st_size}\t{st.st_mtime_ns}"
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
        h.update(entry.encode("utf-8") + b"\n")
    for ref in ds.patches:
        h.update(f"centroid\t{ref.patch_id}\t{ref.centroid[0]}\t{ref.centroid[1]}\n".encode())
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """SHA-256 of flair-hdbscan's own source files (changes with any edit of the code)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".j2", ".html", ".js", ".css") and path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of Python, flair-hdbscan (with its code digest) and the key packages."""
    out = {
        "python": platform.python_version(),
        "flair-hdbscan": __version__,
        "flair-hdbscan-code": code_digest()[:16],
    }
    for pkg in KEY_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def describe_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The first differences between two provenance records, as a short phrase.

    Args:
        old: a recorded provenance (nested dicts of JSON values).
        new: the present one.

    Returns:
        E.g. ``"options.stride 10 → 20, data changed"``; ``"nothing"`` when equal.
    """
    changes: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
            return
        if a != b:
            if path.endswith("digest"):
                split = {"train": " of the training split", "score": " of the scored split"}
                changes.append(f"the data{split.get(path.split('.')[0], '')} changed")
            elif path.startswith("data"):
                changes.append(f"{path} changed")
            else:
                changes.append(f"{path} {a!r} → {b!r}")

    walk(old, new, "")
    if not changes:
        return "nothing"
    shown = ", ".join(changes[:3])
    return shown + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
