"""Tiny FLAIR #2 trees written independently of the package, and helpers to corrupt them.

The trees follow the release layout exactly (512 × 512 uint8 GeoTIFFs with LZW, Sentinel-2
``.npy`` super areas, products files, the shared centroids JSON) so that the reader is shown
to load a tree it did not write. They hold three domains with different numbers of dates
(5, 9, 13) and super-area sizes, a centroid close to the top border (a 40-pixel crop pads),
another on the right border, a product of 29 February 2020 (which the reference
implementation cannot parse, but the release's reader must), mask values 1..19 (so 14..19
too), and ids whose sorted order differs from the sorted order of their paths. The real
release keeps centroids 56 pixels from every border and has no leap-day product in its
training areas; these trees hold both cases on purpose, the generator's samples neither.

Sentinel-2 masks follow a fixed rule so that tests can count clear dates by hand: date ``t``
is clear when ``t % 3 == 0``, fully cloudy (probability 100) when ``t % 3 == 1``, and when
``t % 3 == 2`` the top 30 % of rows have cloud probability 40 (dropped by the notebook's
0.2/20 thresholds, kept by the training code's 0.5/60).
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import yaml
from affine import Affine

SIDE = 512
CRS = "EPSG:2154"


@dataclass(frozen=True)
class AreaSpec:
    """One Sentinel-2 super area."""

    domain: str
    zone: str
    n_dates: int
    height: int
    width: int
    start: datetime.date = datetime.date(2021, 1, 10)  # first date; then every 23 days

    @property
    def name(self) -> str:
        return f"{self.domain}-{self.zone}"


@dataclass(frozen=True)
class PatchSpec:
    """One aerial patch."""

    patch_id: str
    domain: str
    zone: str
    centroid: tuple[int, int]

    @property
    def area(self) -> str:
        return f"{self.domain}-{self.zone}"


AREAS: tuple[AreaSpec, ...] = (
    AreaSpec("D004_2021", "Z1_NN", 5, 48, 52),
    AreaSpec("D013_2020", "Z2_AA", 9, 64, 70, datetime.date(2020, 1, 14)),  # 3rd: 29 Feb
    AreaSpec("D077_2021", "Z3_UF", 13, 45, 60),
)

PATCHES: tuple[PatchSpec, ...] = (
    # smallest id, but in the last domain: sorted ids and sorted paths disagree
    PatchSpec("000050", "D077_2021", "Z3_UF", (22, 59)),  # on the right border
    PatchSpec("000101", "D004_2021", "Z1_NN", (10, 25)),  # row < 20: a 40 crop pads on top
    PatchSpec("000205", "D013_2020", "Z2_AA", (32, 35)),
    PatchSpec("000412", "D004_2021", "Z1_NN", (30, 30)),
)


@dataclass
class Tree:
    """A written tree and where everything is."""

    root: Path
    layout: str
    split: str
    aerial: Path
    sen: Path
    labels: Path | None
    centroids: Path
    metadata: Path
    areas: dict[str, AreaSpec]
    patches: dict[str, PatchSpec]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    sen_data: dict[str, np.ndarray] = field(default_factory=dict)
    sen_masks: dict[str, np.ndarray] = field(default_factory=dict)
    dates: dict[str, list[datetime.date]] = field(default_factory=dict)

    def image_path(self, pid: str) -> Path:
        p = self.patches[pid]
        return self.aerial / p.domain / p.zone / "img" / f"IMG_{pid}.tif"

    def mask_path(self, pid: str) -> Path:
        assert self.labels is not None
        p = self.patches[pid]
        return self.labels / p.domain / p.zone / "msk" / f"MSK_{pid}.tif"

    def sen_path(self, area: str, kind: str) -> Path:
        a = self.areas[area]
        suffix = {"data": "data.npy", "masks": "masks.npy", "products": "products.txt"}[kind]
        return self.sen / a.domain / a.zone / "sen" / f"SEN2_sp_{a.name}_{suffix}"


def release_dirs(layout: str, split: str) -> dict[str, str]:
    """Folder names written here by hand (not taken from the package)."""
    if layout == "full":
        if split == "train":
            return {
                "aerial": "flair_aerial_train",
                "sen": "flair_sen_train",
                "labels": "flair_labels_train",
            }
        return {
            "aerial": "flair_2_aerial_test",
            "sen": "flair_2_sen_test",
            "labels": "flair_2_labels_test",
        }
    return {k: f"flair_2_toy_{k}_{split}" for k in ("aerial", "sen", "labels")}


def write_tif(
    path: Path, array: np.ndarray, *, origin: tuple[float, float] = (650000.0, 6860000.0)
) -> None:
    """Write ``(bands, H, W)`` or ``(H, W)`` as an LZW GeoTIFF in Lambert-93, 0.2 m pixels."""
    if array.ndim == 2:
        array = array[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype,
        crs=CRS,
        transform=Affine(0.2, 0.0, origin[0], 0.0, -0.2, origin[1]),
        compress="lzw",
    ) as dst:
        dst.write(array)


def expected_clear(n_dates: int, *, notebook: bool) -> int:
    """Clear dates of a whole area under the mask rule of the module docstring."""
    kept = [t for t in range(n_dates) if t % 3 == 0 or (t % 3 == 2 and not notebook)]
    return len(kept)


def _sentinel_masks(area: AreaSpec) -> np.ndarray:
    masks = np.zeros((area.n_dates, 2, area.height, area.width), dtype=np.uint8)
    for t in range(area.n_dates):
        if t % 3 == 1:
            masks[t, 1] = 100
        elif t % 3 == 2:
            masks[t, 1, : int(0.3 * area.height)] = 40
    return masks


def _dates(area: AreaSpec) -> list[datetime.date]:
    return [area.start + datetime.timedelta(days=23 * t) for t in range(area.n_dates)]


def product_name(date: datetime.date) -> str:
    return f"S2B_MSIL2A_{date:%Y%m%d}T105619_N0300_R094_T31UDQ_{date:%Y%m%d}T122414"


def make_tree(
    root: Path,
    *,
    layout: str = "full",
    split: str = "train",
    patches: tuple[PatchSpec, ...] = PATCHES,
    areas: tuple[AreaSpec, ...] = AREAS,
    labels: bool = True,
    seed: int = 0,
) -> Tree:
    """Write a small FLAIR #2 tree under ``root`` and describe it.

    Args:
        root: folder to write into (the release root).
        layout: ``"full"`` (folders at ``root``) or ``"toy"`` (under
            ``root/flair_2_toy_dataset``).
        split: ``"train"`` or ``"test"``.
        patches: patches to write; each must name one of ``areas``.
        areas: super areas.
        labels: write the labels folder.
        seed: random seed of the pixel values.
    """
    rng = np.random.default_rng(seed)
    base = root if layout == "full" else root / "flair_2_toy_dataset"
    names = release_dirs(layout, split)
    tree = Tree(
        root=root,
        layout=layout,
        split=split,
        aerial=base / names["aerial"],
        sen=base / names["sen"],
        labels=base / names["labels"] if labels else None,
        centroids=base / "flair-2_centroids_sp_to_patch.json",
        metadata=base / "flair_aerial_metadata.json",
        areas={a.name: a for a in areas},
        patches={p.patch_id: p for p in patches},
    )
    blocks = 16
    for k, p in enumerate(patches):
        image = np.kron(
            rng.integers(0, 256, (5, blocks, blocks), dtype=np.uint8),
            np.ones((SIDE // blocks, SIDE // blocks), dtype=np.uint8),
        )
        write_tif(tree.image_path(p.patch_id), image, origin=(650000.0 + 200 * k, 6860000.0))
        tree.images[p.patch_id] = image
        if labels:
            values = (np.arange(blocks * blocks) % 19 + 1).astype(np.uint8)
            values = rng.permutation(values).reshape(blocks, blocks)
            mask = np.kron(values, np.ones((SIDE // blocks, SIDE // blocks), dtype=np.uint8))
            write_tif(tree.mask_path(p.patch_id), mask, origin=(650000.0 + 200 * k, 6860000.0))
            tree.masks[p.patch_id] = mask
    for a in areas:
        data = rng.integers(0, 10000, (a.n_dates, 10, a.height, a.width), dtype=np.uint16)
        masks = _sentinel_masks(a)
        dates = _dates(a)
        tree.sen_path(a.name, "data").parent.mkdir(parents=True, exist_ok=True)
        np.save(tree.sen_path(a.name, "data"), data)
        np.save(tree.sen_path(a.name, "masks"), masks)
        # a trailing blank line, as some files have
        tree.sen_path(a.name, "products").write_text(
            "\n".join(product_name(d) for d in dates) + "\n\n", encoding="utf-8"
        )
        tree.sen_data[a.name], tree.sen_masks[a.name], tree.dates[a.name] = data, masks, dates
    centroids = {f"IMG_{p.patch_id}.tif": list(p.centroid) for p in patches}
    centroids["IMG_999999.tif"] = [12, 12]  # a patch of another split, as in the real file
    tree.centroids.write_text(json.dumps(centroids), encoding="utf-8")
    tree.metadata.write_text(
        json.dumps({f"IMG_{p.patch_id}": {"domain": p.domain, "zone": p.zone} for p in patches}),
        encoding="utf-8",
    )
    return tree


def write_config(tree: Tree, path: Path) -> Path:
    """Write a reference-style YAML config naming the tree with paths relative to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    split = tree.split

    def rel(p: Path | None) -> str | None:
        return None if p is None else os.path.relpath(p, path.parent)

    data = {
        f"path_aerial_{split}": rel(tree.aerial),
        f"path_sen_{split}": rel(tree.sen),
        f"path_labels_{split}": rel(tree.labels),
        "path_sp_centroids": rel(tree.centroids),
        "path_metadata_aerial": rel(tree.metadata),
    }
    path.write_text(yaml.safe_dump({"data": data, "seed": 2022}), encoding="utf-8")
    return path


# -- corruption ---------------------------------------------------------------------------


def truncate(path: Path, keep: int) -> None:
    """Keep only the first ``keep`` bytes of a file."""
    content = path.read_bytes()
    path.write_bytes(content[:keep])


def drop_centroid(tree: Tree, pid: str) -> None:
    doc = json.loads(tree.centroids.read_text())
    del doc[f"IMG_{pid}.tif"]
    tree.centroids.write_text(json.dumps(doc))


def append_product(tree: Tree, area: str, line: str) -> int:
    """Append a line to an area's products file; returns its 1-based line number."""
    path = tree.sen_path(area, "products")
    lines = [x for x in path.read_text().splitlines() if x.strip()]
    lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)
