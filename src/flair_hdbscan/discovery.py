"""FLAIR #2 tree discovery: release roots and YAML configs, files paired by patch id.

A split is found either from a release root (full or toy folder names, see
:mod:`flair_hdbscan.layout`) or from the reference implementation's YAML config.
:func:`discover` lists and pairs its files by patch id (never by zipping sorted globs) and
checks that every patch has a mask (when the split has labels), a centroid and Sentinel-2
files, naming every id that fails to pair, without reading any pixel.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flair_hdbscan import layout
from flair_hdbscan.errors import DataError, OptionError

__all__ = [
    "PatchRef",
    "SplitPaths",
    "discover",
    "find_split",
    "split_from_config",
]

logger = logging.getLogger(__name__)

_MAX_LISTED = 10
#: Centroids beyond this many Sentinel-2 pixels are refused as malformed.
_MAX_COORD = 2**31


@dataclass(frozen=True)
class PatchRef:
    """Files and position of one patch.

    Attributes:
        patch_id: digits of the file name (``IMG_077413.tif`` → ``"077413"``).
        domain: domain folder, e.g. ``D004_2021``.
        zone: zone folder, e.g. ``Z1_NN``.
        aerial: ``IMG_<id>.tif``.
        mask: ``MSK_<id>.tif``, or None when the split has no labels.
        sen_data: ``SEN2_sp_<domain>-<zone>_data.npy`` of its super area.
        sen_masks: ``SEN2_sp_<domain>-<zone>_masks.npy``.
        sen_products: ``SEN2_sp_<domain>-<zone>_products.txt``.
        centroid: ``(row, col)`` of the patch centre in the super area, Sentinel pixels.
    """

    patch_id: str
    domain: str
    zone: str
    aerial: Path
    mask: Path | None
    sen_data: Path
    sen_masks: Path
    sen_products: Path
    centroid: tuple[int, int]

    @property
    def area(self) -> str:
        """Name of the super area, ``<domain>-<zone>``."""
        return f"{self.domain}-{self.zone}"


@dataclass(frozen=True)
class SplitPaths:
    """Where the files of one split live.

    Attributes:
        split: ``"train"`` or ``"test"``.
        aerial: folder holding ``<domain>/<zone>/img/IMG_*.tif``.
        sen: folder holding ``<domain>/<zone>/sen/SEN2_sp_*``.
        labels: folder holding ``<domain>/<zone>/msk/MSK_*.tif``, or None (no labels).
        centroids: ``flair-2_centroids_sp_to_patch.json``.
        metadata: ``flair_aerial_metadata.json``, or None.
    """

    split: str
    aerial: Path
    sen: Path
    labels: Path | None
    centroids: Path
    metadata: Path | None


def _check_split(split: str) -> None:
    if split not in layout.SPLITS:
        raise OptionError(f"unknown split {split!r}: use one of {', '.join(layout.SPLITS)}")


def find_split(root: Path, split: str = "train") -> SplitPaths:
    """Find one split of a FLAIR #2 release by its folder names.

    Looked for, in order: the full release's folders under ``root``
    (``flair_aerial_train`` …), the toy release's under ``root`` (``root`` is the
    ``flair_2_toy_dataset`` folder itself) and under ``root/flair_2_toy_dataset``. The
    centroids and metadata files are looked for in the folder holding the split's folders,
    then in ``root``. A missing labels folder gives a split without labels.

    Args:
        root: release root.
        split: ``"train"`` or ``"test"``.

    Returns:
        The split's paths.

    Raises:
        DataError: if no release folder, the Sentinel-2 folder or the centroids file is
            found; the message lists what was searched.
        OptionError: on an unknown split.
    """
    _check_split(split)
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"dataset folder {root} {what}: check --data")
    candidates = [
        (root, layout.RELEASE_DIRS["full"][split]),
        (root, layout.RELEASE_DIRS["toy"][split]),
        (root / layout.TOY_ROOT, layout.RELEASE_DIRS["toy"][split]),
    ]
    for base, names in candidates:
        if (base / names["aerial"]).is_dir():
            break
    else:
        searched = ", ".join(str(base / names["aerial"]) for base, names in candidates)
        raise DataError(
            f"no FLAIR #2 {split} split under {root}: looked for {searched}; pass the release "
            f"root with --data or name the folders in a YAML config with --config"
        )
    sen = base / names["sen"]
    if not sen.is_dir():
        raise DataError(
            f"no Sentinel-2 folder {sen} beside {base / names['aerial']}: is the "
            f"{names['sen']} archive extracted there?"
        )
    labels: Path | None = base / names["labels"]
    if not labels.is_dir():
        logger.info("no labels folder %s: the %s split has no labels", labels, split)
        labels = None
    places = [base] if base == root else [base, root]
    centroids = next(
        (p / layout.CENTROIDS_FILE for p in places if (p / layout.CENTROIDS_FILE).is_file()),
        None,
    )
    if centroids is None:
        searched = " and ".join(str(p) for p in places)
        raise DataError(
            f"no {layout.CENTROIDS_FILE} in {searched}: put the centroids file of the "
            f"release there or use --config with path_sp_centroids"
        )
    metadata = next(
        (p / layout.METADATA_FILE for p in places if (p / layout.METADATA_FILE).is_file()),
        None,
    )
    return SplitPaths(
        split=split,
        aerial=base / names["aerial"],
        sen=sen,
        labels=labels,
        centroids=centroids,
        metadata=metadata,
    )


def split_from_config(config: Path, split: str = "train") -> SplitPaths:
    """Read one split's paths from a reference-implementation YAML config.

    The ``data:`` section holds ``path_aerial_<split>``, ``path_sen_<split>``,
    ``path_labels_<split>`` (optional: absent or empty means no labels),
    ``path_sp_centroids`` and ``path_metadata_aerial`` (optional). Relative paths are read
    from the config's folder.

    Args:
        config: YAML file.
        split: ``"train"`` or ``"test"``.

    Returns:
        The split's paths.

    Raises:
        DataError: if the file is missing or not YAML, a required key is missing, or a
            named path does not exist; the message names the key.
        OptionError: on an unknown split.
    """
    import yaml

    _check_split(split)
    config = Path(config).expanduser()
    try:
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"config file {config} does not exist: check --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read config file {config}: {exc}") from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"config file {config} is not valid YAML: {reason}") from None
    except RecursionError:
        raise DataError(
            f"config file {config} nests too deeply to be a config: check --config"
        ) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("data"), Mapping):
        raise DataError(
            f"config file {config} has no `data:` section with path_aerial_{split}, "
            f"path_sen_{split}, ... keys"
        )
    data = doc["data"]
    keys = {**layout.CONFIG_KEYS[split], **layout.CONFIG_KEYS["common"]}

    def resolve(kind: str, *, required: bool, is_dir: bool) -> Path | None:
        key = keys[kind]
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise DataError(f"config file {config} has no data.{key}: add it")
            return None
        if not isinstance(value, str):
            raise DataError(f"data.{key} in {config} must be a path, got {value!r}")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = config.parent / path
        ok = path.is_dir() if is_dir else path.is_file()
        if not ok:
            what = "folder" if is_dir else "file"
            raise DataError(f"{what} {path} does not exist: is data.{key} in {config} right?")
        return path

    aerial = cast(Path, resolve("aerial", required=True, is_dir=True))
    sen = cast(Path, resolve("sen", required=True, is_dir=True))
    labels = resolve("labels", required=False, is_dir=True)
    centroids = cast(Path, resolve("centroids", required=True, is_dir=False))
    metadata = resolve("metadata", required=False, is_dir=False)
    return SplitPaths(
        split=split,
        aerial=aerial,
        sen=sen,
        labels=labels,
        centroids=centroids,
        metadata=metadata,
    )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f" and {len(names) - _MAX_LISTED} more"
    return shown


def _scan(folder: Path, subdir: str, pattern: Any, prefix: str) -> dict[str, Path]:
    """Map patch id → file for ``folder/<domain>/<zone>/<subdir>/<prefix>_<id>.tif``."""
    found: dict[str, Path] = {}
    try:
        paths = sorted(folder.glob(f"*/*/{subdir}/{prefix}_*.tif"))
    except OSError as exc:  # a symlink loop, a folder without permission
        raise DataError(f"cannot list {folder}: {exc.strerror or exc}: check the folder") from None
    for path in paths:
        match = pattern.match(path.name)
        if match is None:
            logger.warning("ignoring %s: not named %s_<digits>.tif", path, prefix)
            continue
        if path.is_symlink() and not path.exists():
            raise DataError(
                f"{path} is a symbolic link that leads nowhere (broken, or a loop): point it "
                "at the file or remove it"
            )
        pid = match["id"]
        if pid in found:
            raise DataError(
                f"{prefix}_{pid}.tif is in two places, {found[pid]} and {path}: keep one"
            )
        found[pid] = path
    return found


def _load_centroids(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"centroids file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read centroids file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"centroids file {path} is not valid JSON ({exc.msg} at line {exc.lineno}): "
            f"replace it with the release's {layout.CENTROIDS_FILE}"
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer too long
        raise DataError(
            f"centroids file {path} is not a centroids file ({type(exc).__name__}): "
            f"replace it with the release's {layout.CENTROIDS_FILE}"
        ) from None
    if not isinstance(doc, dict):
        raise DataError(
            f"centroids file {path} must map IMG_<id>.tif to [row, col], "
            f"got a JSON {type(doc).__name__}"
        )
    return doc


def _centroid(value: Any, name: str, path: Path) -> tuple[int, int]:
    def whole(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        return abs(v) < _MAX_COORD and math.isfinite(v) and float(v).is_integer()

    if not (isinstance(value, list | tuple) and len(value) == 2 and all(map(whole, value))):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise DataError(f"centroid of {name} in {path} must be [row, col] integers, got {shown}")
    return int(value[0]), int(value[1])


def discover(paths: SplitPaths) -> list[PatchRef]:
    """Every patch of a split, sorted by id, its files paired by id.

    Raises:
        DataError: naming the folder, file or unpaired ids and the setting to check.
    """
    keys = layout.CONFIG_KEYS[paths.split]
    for kind in ("aerial", "sen", "labels"):
        folder = getattr(paths, kind)
        if folder is not None and not Path(folder).is_dir():
            raise DataError(f"folder {folder} does not exist: is {keys[kind]} right?")
    if not paths.centroids.is_file():
        raise DataError(
            f"centroids file {paths.centroids} does not exist: is path_sp_centroids right?"
        )
    images = _scan(paths.aerial, layout.AERIAL_SUBDIR, layout.IMG_RE, "IMG")
    if not images:
        raise DataError(
            f"no IMG_<id>.tif under {paths.aerial}/<domain>/<zone>/{layout.AERIAL_SUBDIR}/: "
            f"is {keys['aerial']} right?"
        )
    masks: dict[str, Path] = {}
    if paths.labels is not None:
        masks = _scan(paths.labels, layout.LABELS_SUBDIR, layout.MSK_RE, "MSK")
        _check_pairs(paths, images, masks, keys["labels"])
    centroids = _load_centroids(paths.centroids)
    patches = []
    sen_files: dict[tuple[str, str], dict[str, Path]] = {}
    for pid in sorted(images):
        image = images[pid]
        domain, zone = image.parts[-4], image.parts[-3]
        name = layout.aerial_name(pid)
        if name not in centroids:
            raise DataError(
                f"no centroid for {name} in {paths.centroids}: is it the centroids file "
                f"of this release (path_sp_centroids)?"
            )
        centroid = _centroid(centroids[name], name, paths.centroids)
        if (domain, zone) not in sen_files:
            sen_dir = paths.sen / domain / zone / layout.SEN_SUBDIR
            sen = {k: sen_dir / v for k, v in layout.sentinel_names(domain, zone).items()}
            for kind in ("data", "masks", "products"):
                if not sen[kind].is_file():
                    raise DataError(
                        f"no Sentinel-2 file {sen[kind]} for {name}: is {keys['sen']} right?"
                    )
            sen_files[domain, zone] = sen
        sen = sen_files[domain, zone]
        patches.append(
            PatchRef(
                patch_id=pid,
                domain=domain,
                zone=zone,
                aerial=image,
                mask=masks.get(pid),
                sen_data=sen["data"],
                sen_masks=sen["masks"],
                sen_products=sen["products"],
                centroid=centroid,
            )
        )
    return patches


def _check_pairs(
    paths: SplitPaths, images: dict[str, Path], masks: dict[str, Path], key: str
) -> None:
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    if not no_mask and not no_image:
        return
    labels, aerial = paths.labels, paths.aerial
    problems = []
    if len(no_mask) == 1:
        pid = no_mask[0]
        problems.append(f"no {layout.mask_name(pid)} for {layout.aerial_name(pid)} under {labels}")
    elif no_mask:
        problems.append(
            f"{len(no_mask)} images without a mask under {labels}: "
            + _listing([layout.aerial_name(p) for p in no_mask])
        )
    if len(no_image) == 1:
        pid = no_image[0]
        problems.append(f"no {layout.aerial_name(pid)} for {layout.mask_name(pid)} under {aerial}")
    elif no_image:
        problems.append(
            f"{len(no_image)} masks without an image under {aerial}: "
            + _listing([layout.mask_name(p) for p in no_image])
        )
    aerial_key = layout.CONFIG_KEYS[paths.split]["aerial"]
    raise DataError("; ".join(problems) + f": are {key} and {aerial_key} right?")


# -- sequence protocol -----------------------------------------------------------------
