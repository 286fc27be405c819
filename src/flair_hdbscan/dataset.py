"""FLAIR #2 tree discovery (release root or YAML config), pairing by id, patch reading.

A split is found either from a release root (full or toy folder names, see
:mod:`flair_hdbscan.layout`) or from the reference implementation's YAML config. Opening a
split lists and pairs its files by patch id and checks that every patch has a mask (when the
split has labels), a centroid and Sentinel-2 files, without reading any pixel. Reading a patch
reads only that patch; Sentinel-2 super areas are memory-mapped once per area.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from flair_hdbscan import layout, sentinel
from flair_hdbscan.errors import DataError, OptionError
from flair_hdbscan.geotiff import read_uint8_tif
from flair_hdbscan.nomenclature import N_CLASSES, to_reduced

__all__ = [
    "FlairDataset",
    "PatchRef",
    "SentinelPatch",
    "SplitPaths",
    "class_distribution",
    "find_split",
    "reduce_counts",
    "split_from_config",
]

logger = logging.getLogger(__name__)

#: Number of values of the full nomenclature counted by :func:`class_distribution` (0..19).
N_FULL_VALUES = 20
_MAX_LISTED = 10


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


@dataclass
class SentinelPatch:
    """A Sentinel-2 super patch: the time series around one aerial patch.

    Attributes:
        data: ``(T, 10, s, s)`` uint16 reflectance, bands :data:`sentinel.S2_BANDS`.
        masks: ``(T, 2, s, s)`` uint8 snow and cloud probabilities 0..100.
        dates: ``T`` acquisition dates.
        valid: ``(s, s)`` bool, False where the crop was edge-padded outside the super area.
    """

    data: np.ndarray
    masks: np.ndarray
    dates: list[datetime.date]
    valid: np.ndarray

    def clear(self, *, area_threshold: float = 0.5, proba_threshold: int = 60) -> np.ndarray:
        """Dates clear of snow and cloud, ``(T,)`` bool (see :func:`sentinel.clear_dates`)."""
        return sentinel.clear_dates(
            self.masks,
            valid=self.valid,
            area_threshold=area_threshold,
            proba_threshold=proba_threshold,
        )

    def filtered(self, **thresholds: Any) -> SentinelPatch:
        """The same patch restricted to its clear dates.

        Args:
            **thresholds: ``area_threshold`` and/or ``proba_threshold`` of :meth:`clear`.

        Returns:
            A new patch with ``T' <= T`` dates.
        """
        keep = self.clear(**thresholds)
        return SentinelPatch(
            data=self.data[keep],
            masks=self.masks[keep],
            dates=[d for d, k in zip(self.dates, keep, strict=True) if k],
            valid=self.valid,
        )

    def monthly(self) -> tuple[np.ndarray, list[datetime.date]]:
        """Monthly means ``(M, 10, s, s)`` float32 and the 15th of each month."""
        return sentinel.monthly_average(self.data, self.dates)


@dataclass
class _Area:
    """Memory maps and dates of one super area."""

    data: np.ndarray
    masks: np.ndarray
    dates: list[datetime.date]


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f" and {len(names) - _MAX_LISTED} more"
    return shown


def _scan(folder: Path, subdir: str, pattern: Any, prefix: str) -> dict[str, Path]:
    """Map patch id → file for ``folder/<domain>/<zone>/<subdir>/<prefix>_<id>.tif``."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob(f"*/*/{subdir}/{prefix}_*.tif")):
        match = pattern.match(path.name)
        if match is None:
            logger.warning("ignoring %s: not named %s_<digits>.tif", path, prefix)
            continue
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
    if not isinstance(doc, dict):
        raise DataError(
            f"centroids file {path} must map IMG_<id>.tif to [row, col], "
            f"got a JSON {type(doc).__name__}"
        )
    return doc


def _centroid(value: Any, name: str, path: Path) -> tuple[int, int]:
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
            for v in value
        )
    )
    if not ok:
        raise DataError(f"centroid of {name} in {path} must be [row, col] integers, got {value!r}")
    return int(value[0]), int(value[1])


class FlairDataset:
    """One split of a FLAIR #2 tree.

    Patches are sorted by id; ``IMG_<id>`` is paired with ``MSK_<id>``, with the Sentinel-2
    files of its domain/zone and with its centroid by id (never by zipping sorted globs).
    Construction checks the pairing and the presence of every file without reading pixels.

    Attributes:
        split: ``"train"`` or ``"test"``.
        paths: the split's folders and files.
        patches: one :class:`PatchRef` per aerial image, sorted by id.
        sat_patch_size: side of the Sentinel-2 super patch, Sentinel pixels.

    Example:
        >>> ds = FlairDataset.from_root("data/flair_2_toy_dataset")  # doctest: +SKIP
        >>> sample = ds[0]  # doctest: +SKIP
        >>> sample["image"].shape, sample["labels"].dtype  # doctest: +SKIP
        ((5, 512, 512), dtype('uint8'))
    """

    def __init__(self, paths: SplitPaths, *, sat_patch_size: int = 40) -> None:
        if isinstance(sat_patch_size, bool) or not isinstance(sat_patch_size, int | np.integer):
            raise OptionError(f"sat_patch_size must be an integer, got {sat_patch_size!r}")
        if sat_patch_size < 1:
            raise OptionError(f"sat_patch_size must be at least 1, got {sat_patch_size}")
        self.split = paths.split
        self.paths = paths
        self.sat_patch_size = int(sat_patch_size)
        self._areas: dict[str, _Area] = {}
        self._dates: dict[str, list[datetime.date]] = {}
        self.patches = self._discover()
        self._by_id = {p.patch_id: i for i, p in enumerate(self.patches)}

    @classmethod
    def from_root(cls, root: Path, split: str = "train", **kw: Any) -> FlairDataset:
        """Open a split of the release under ``root`` (see :func:`find_split`)."""
        return cls(find_split(Path(root), split), **kw)

    @classmethod
    def from_config(cls, config: Path, split: str = "train", **kw: Any) -> FlairDataset:
        """Open a split named by a YAML config (see :func:`split_from_config`)."""
        return cls(split_from_config(Path(config), split), **kw)

    # -- discovery -------------------------------------------------------------------------

    def _discover(self) -> list[PatchRef]:
        paths = self.paths
        keys = layout.CONFIG_KEYS[self.split]
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
            self._check_pairs(images, masks, keys["labels"])
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

    def _check_pairs(self, images: dict[str, Path], masks: dict[str, Path], key: str) -> None:
        no_mask = sorted(set(images) - set(masks))
        no_image = sorted(set(masks) - set(images))
        if not no_mask and not no_image:
            return
        labels, aerial = self.paths.labels, self.paths.aerial
        problems = []
        if len(no_mask) == 1:
            pid = no_mask[0]
            problems.append(
                f"no {layout.mask_name(pid)} for {layout.aerial_name(pid)} under {labels}"
            )
        elif no_mask:
            problems.append(
                f"{len(no_mask)} images without a mask under {labels}: "
                + _listing([layout.aerial_name(p) for p in no_mask])
            )
        if len(no_image) == 1:
            pid = no_image[0]
            problems.append(
                f"no {layout.aerial_name(pid)} for {layout.mask_name(pid)} under {aerial}"
            )
        elif no_image:
            problems.append(
                f"{len(no_image)} masks without an image under {aerial}: "
                + _listing([layout.mask_name(p) for p in no_image])
            )
        aerial_key = layout.CONFIG_KEYS[self.split]["aerial"]
        raise DataError("; ".join(problems) + f": are {key} and {aerial_key} right?")

    # -- sequence protocol -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.patches)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"FlairDataset(split={self.split!r}, n_patches={len(self)}, "
            f"aerial={str(self.paths.aerial)!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Memory maps would be pickled as whole arrays: drop them, they reopen on demand.
        state = self.__dict__.copy()
        state["_areas"] = {}
        return state

    def _index(self, i: int) -> int:
        n = len(self.patches)
        if not -n <= i < n:
            raise IndexError(f"patch index {i} out of range for {n} patches")
        return i % n

    def __getitem__(self, i: int) -> dict[str, Any]:
        """One patch as a dict.

        Returns:
            ``{"id", "domain", "zone", "image": (5, 512, 512) uint8, "mask": (512, 512) uint8
            1..19, "labels": (512, 512) uint8 0..12 / 255, "crs", "transform"}``; ``mask``
            and ``labels`` are None when the split has no labels.
        """
        i = self._index(i)
        ref = self.patches[i]
        image, profile = read_uint8_tif(ref.aerial, what="aerial image", count=5)
        mask = self.read_mask(i) if self.has_labels else None
        return {
            "id": ref.patch_id,
            "domain": ref.domain,
            "zone": ref.zone,
            "image": image,
            "mask": mask,
            "labels": None if mask is None else to_reduced(mask),
            "crs": profile["crs"],
            "transform": profile["transform"],
        }

    def index(self, patch_id: str) -> int:
        """Position of a patch id (``"077413"``; ``IMG_077413.tif`` is also accepted).

        Raises:
            DataError: if the split has no such patch.
        """
        match = layout.IMG_RE.match(patch_id) or layout.MSK_RE.match(patch_id)
        pid = match["id"] if match else patch_id
        try:
            return self._by_id[pid]
        except KeyError:
            raise DataError(
                f"no patch {patch_id!r} in the {self.split} split under {self.paths.aerial}"
            ) from None

    @property
    def has_labels(self) -> bool:
        """Whether the split has label masks."""
        return self.paths.labels is not None

    # -- pixel reading ---------------------------------------------------------------------

    def read_image(self, i: int) -> np.ndarray:
        """Aerial image of patch ``i``.

        Returns:
            ``(5, H, W)`` uint8: red, green, blue, near infrared, elevation (stored; metres
            × 5).

        Raises:
            DataError: if the file is unreadable or truncated, or not 5 bands of uint8.
        """
        path = self.patches[self._index(i)].aerial
        return read_uint8_tif(path, what="aerial image", count=5)[0]

    def read_elevation_m(self, i: int) -> np.ndarray:
        """Elevation band of patch ``i`` in metres, ``(H, W)`` float32 (stored value / 5)."""
        path = self.patches[self._index(i)].aerial
        band = read_uint8_tif(path, what="aerial image", count=5, indexes=5)[0]
        return band.astype(np.float32) / np.float32(5)

    def read_mask(self, i: int) -> np.ndarray:
        """Label mask of patch ``i`` in the full nomenclature.

        Returns:
            ``(H, W)`` uint8, values 1..19 (0 = no data).

        Raises:
            DataError: if the split has no labels, the file is unreadable, not one band of
                uint8, has values above 19, or its shape differs from the aerial image's.
        """
        i = self._index(i)
        ref = self.patches[i]
        if ref.mask is None:
            raise DataError(
                f"the {self.split} split under {self.paths.aerial} has no labels: "
                f"set {layout.CONFIG_KEYS[self.split]['labels']} or add the labels folder"
            )
        mask, profile = read_uint8_tif(ref.mask, what="label mask", count=1, indexes=1)
        shape = (profile["height"], profile["width"])
        image_shape = self._image_shape(i)
        if shape != image_shape:
            raise DataError(
                f"{ref.mask} is {shape[0]}×{shape[1]} but {ref.aerial.name} is "
                f"{image_shape[0]}×{image_shape[1]}: are the masks of the same release?"
            )
        top = int(mask.max()) if mask.size else 0
        if top > 19:
            raise DataError(
                f"{ref.mask} holds label value {top}; FLAIR #2 masks hold 1..19: "
                f"is it a FLAIR #2 mask (not a prediction or a reduced 0..12 map)?"
            )
        return mask

    def read_labels(self, i: int) -> np.ndarray:
        """Reduced labels of patch ``i``: ``(H, W)`` uint8 0..12, 255 where no data."""
        return to_reduced(self.read_mask(i))

    def _image_shape(self, i: int) -> tuple[int, int]:
        profile = self.read_profile(i)
        return profile["height"], profile["width"]

    def read_profile(self, i: int) -> dict[str, Any]:
        """Georeferencing of patch ``i``'s aerial file (its header only; no pixel is read).

        Returns:
            ``{"crs": rasterio CRS, "transform": affine.Affine, "width": int, "height": int}``.

        Raises:
            DataError: if the file is unreadable or not 5 bands of uint8.
        """
        path = self.patches[self._index(i)].aerial
        return read_uint8_tif(path, what="aerial image", count=5, indexes=[])[1]

    # -- Sentinel-2 ------------------------------------------------------------------------

    def _products(self, ref: PatchRef) -> list[datetime.date]:
        if ref.area not in self._dates:
            self._dates[ref.area] = sentinel.read_products(ref.sen_products)
        return self._dates[ref.area]

    def _area(self, ref: PatchRef) -> _Area:
        """Memory maps of a patch's super area, opened and checked once."""
        if ref.area in self._areas:
            return self._areas[ref.area]
        arrays = {}
        for kind, path, channels, dtype in (
            ("data", ref.sen_data, 10, np.uint16),
            ("masks", ref.sen_masks, 2, np.uint8),
        ):
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                reason = " ".join(str(exc).split())
                raise DataError(
                    f"cannot read Sentinel-2 {kind} {path} ({reason}): is the file truncated?"
                ) from None
            if array.ndim != 4 or array.shape[1] != channels or array.dtype != dtype:
                raise DataError(
                    f"{path} is {array.dtype} {array.shape}; FLAIR #2 Sentinel-2 {kind} is "
                    f"(T, {channels}, H, W) {np.dtype(dtype).name}"
                )
            arrays[kind] = array
        data, masks = arrays["data"], arrays["masks"]
        t_hw = (data.shape[0], *data.shape[2:])
        if t_hw != (masks.shape[0], *masks.shape[2:]):
            raise DataError(
                f"{ref.sen_masks.name} is {masks.shape} but {ref.sen_data.name} is "
                f"{data.shape} under {ref.sen_data.parent}: (T, H, W) must agree; "
                f"are both files of the same area?"
            )
        dates = self._products(ref)
        if len(dates) != data.shape[0]:
            raise DataError(
                f"{ref.sen_products} lists {len(dates)} products but {ref.sen_data.name} "
                f"has {data.shape[0]} dates: are both files of the same area?"
            )
        area = _Area(data=data, masks=masks, dates=dates)
        self._areas[ref.area] = area
        return area

    def read_sentinel(self, i: int, *, size: int | None = None) -> SentinelPatch:
        """Sentinel-2 super patch of patch ``i``.

        The super area is memory-mapped once (cached per area), so only the crop is read.

        Args:
            i: patch index.
            size: side of the crop in Sentinel pixels (default :attr:`sat_patch_size`).

        Returns:
            A :class:`SentinelPatch` of ``(T, 10, size, size)`` uint16 data and
            ``(T, 2, size, size)`` uint8 masks.

        Raises:
            DataError: if the area files are unreadable, of the wrong dtype or rank, disagree
                in shape with each other or with the products file, or the centroid lies
                outside the super area.
        """
        ref = self.patches[self._index(i)]
        size = self.sat_patch_size if size is None else int(size)
        if size < 1:
            raise OptionError(f"Sentinel-2 crop size must be at least 1, got {size}")
        area = self._area(ref)
        height, width = area.data.shape[2:]
        row, col = ref.centroid
        if not (0 <= row < height and 0 <= col < width):
            raise DataError(
                f"centroid {[row, col]} of {ref.aerial.name} in {self.paths.centroids} lies "
                f"outside its {height}×{width} super area {ref.sen_data.name}"
            )
        data, valid = sentinel.crop(area.data, ref.centroid, size)
        masks, _ = sentinel.crop(area.masks, ref.centroid, size)
        return SentinelPatch(data=data, masks=masks, dates=list(area.dates), valid=valid)

    # -- summaries -------------------------------------------------------------------------

    def _files(self) -> Iterable[tuple[str, Path]]:
        """(modality, path) of every file the split uses, each once."""
        seen_areas = set()
        for ref in self.patches:
            yield "aerial", ref.aerial
            if ref.mask is not None:
                yield "labels", ref.mask
            if ref.area not in seen_areas:
                seen_areas.add(ref.area)
                yield "sen", ref.sen_data
                yield "sen", ref.sen_masks
                yield "sen", ref.sen_products

    def fingerprint(self) -> str:
        """Cheap, machine-independent identity of the split's data.

        SHA-256 over the sorted (path relative to its modality folder, size in bytes) of
        every file the split uses, plus the centroid of each patch. File contents are not
        read.

        Returns:
            64 hexadecimal characters.
        """
        entries = []
        for modality, path in self._files():
            base = getattr(self.paths, modality)
            rel = path.relative_to(base).as_posix()
            entries.append(f"{modality}/{rel}\t{path.stat().st_size}")
        entries.sort()
        entries.extend(
            f"centroid\t{p.patch_id}\t{p.centroid[0]}\t{p.centroid[1]}" for p in self.patches
        )
        digest = hashlib.sha256()
        digest.update(f"split\t{self.split}\n".encode())
        for entry in entries:
            digest.update(entry.encode("utf-8") + b"\n")
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Facts about the split, for ``flair-hdbscan info``.

        Reads each area's products file and its whole ``masks.npy`` (memory-mapped) once.

        Returns:
            ``{"split", "n_patches", "has_labels", "domains", "patches_per_domain", "areas",
            "n_areas", "t_min", "t_max", "areas_detail", "fingerprint", "paths"}``;
            ``areas_detail`` maps each area to ``{"n_patches", "T", "height", "width",
            "clear_training", "clear_notebook"}``, the numbers of dates clear over the whole
            super area with the reference training thresholds (0.5, 60) and the reference
            notebook's (0.2, 20).
        """
        per_domain: dict[str, int] = {}
        first_of_area: dict[str, int] = {}
        per_area: dict[str, int] = {}
        for i, ref in enumerate(self.patches):
            per_domain[ref.domain] = per_domain.get(ref.domain, 0) + 1
            per_area[ref.area] = per_area.get(ref.area, 0) + 1
            first_of_area.setdefault(ref.area, i)
        detail = {}
        for name in sorted(first_of_area):
            area = self._area(self.patches[first_of_area[name]])
            train_a, train_p = sentinel.REFERENCE_TRAINING_THRESHOLDS
            note_a, note_p = sentinel.REFERENCE_NOTEBOOK_THRESHOLDS
            detail[name] = {
                "n_patches": per_area[name],
                "T": int(area.data.shape[0]),
                "height": int(area.data.shape[2]),
                "width": int(area.data.shape[3]),
                "clear_training": int(
                    sentinel.clear_dates(
                        area.masks, area_threshold=train_a, proba_threshold=train_p
                    ).sum()
                ),
                "clear_notebook": int(
                    sentinel.clear_dates(
                        area.masks, area_threshold=note_a, proba_threshold=note_p
                    ).sum()
                ),
            }
        ts = [d["T"] for d in detail.values()]
        return {
            "split": self.split,
            "n_patches": len(self),
            "has_labels": self.has_labels,
            "domains": sorted(per_domain),
            "patches_per_domain": dict(sorted(per_domain.items())),
            "areas": sorted(detail),
            "n_areas": len(detail),
            "t_min": min(ts),
            "t_max": max(ts),
            "areas_detail": detail,
            "fingerprint": self.fingerprint(),
            "paths": {
                k: None if v is None else str(v)
                for k, v in vars(self.paths).items()
                if k != "split"
            },
        }


def reduce_counts(full: np.ndarray) -> np.ndarray:
    """Fold per-value pixel counts of the full nomenclature into the reduced one.

    Args:
        full: ``(20,)`` counts of mask values 0..19 (0 = no data).

    Returns:
        ``(13,)`` int64 counts of reduced classes 0..12 (values 13..19 → "other"); pixels
        without data are dropped.
    """
    full = np.asarray(full, dtype=np.int64)
    if full.shape != (N_FULL_VALUES,):
        raise ValueError(f"expected {N_FULL_VALUES} counts (values 0..19), got {full.shape}")
    reduced = np.zeros(N_CLASSES, dtype=np.int64)
    reduced[:12] = full[1:13]
    reduced[12] = full[13:].sum()
    return reduced


def class_distribution(
    ds: FlairDataset, *, reduced: bool = True, progress: bool | None = False
) -> np.ndarray:
    """Pixel count of each class over a split, reading one mask at a time.

    Args:
        ds: a split with labels.
        reduced: count reduced classes 0..12 (pixels without data left out) instead of the
            full values 0..19.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        ``(13,)`` int64 when ``reduced``, else ``(20,)`` int64 indexed by mask value.

    Raises:
        DataError: if the split has no labels or a mask is unreadable or invalid.
    """
    if not ds.has_labels:
        raise DataError(
            f"the {ds.split} split under {ds.paths.aerial} has no labels to count: "
            f"set {layout.CONFIG_KEYS[ds.split]['labels']} or add the labels folder"
        )
    from flair_hdbscan.progress import progress_bar

    full = np.zeros(N_FULL_VALUES, dtype=np.int64)
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("Counting classes", total=len(ds))
        for i in range(len(ds)):
            full += np.bincount(ds.read_mask(i).ravel(), minlength=N_FULL_VALUES)
            bar.advance(task)
    return reduce_counts(full) if reduced else full
