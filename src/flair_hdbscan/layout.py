"""FLAIR #2 file layout, as data: release folder names, file name patterns, config keys.

Per split, the release holds::

    <aerial>/<domain_year>/<zone>/img/IMG_<id>.tif
    <labels>/<domain_year>/<zone>/msk/MSK_<id>.tif
    <sen>/<domain_year>/<zone>/sen/SEN2_sp_<domain_year>-<zone>_data.npy     (T, 10, H, W) uint16
    <sen>/<domain_year>/<zone>/sen/SEN2_sp_<domain_year>-<zone>_masks.npy    (T, 2, H, W) uint8
    <sen>/<domain_year>/<zone>/sen/SEN2_sp_<domain_year>-<zone>_products.txt one product a line

and, shared by both splits, ``flair-2_centroids_sp_to_patch.json`` mapping ``IMG_<id>.tif``
to ``[row, col]`` of the patch centre in its Sentinel-2 super area.
"""

from __future__ import annotations

import re

__all__ = [
    "AERIAL_SUBDIR",
    "CENTROIDS_FILE",
    "CONFIG_KEYS",
    "IMG_RE",
    "LABELS_SUBDIR",
    "METADATA_FILE",
    "MSK_RE",
    "PRED_RE",
    "RELEASE_DIRS",
    "SAMPLE_MARKER",
    "SEN_RE",
    "SEN_SUBDIR",
    "SPLITS",
    "TOY_ROOT",
    "aerial_name",
    "mask_name",
    "pred_name",
    "sentinel_names",
]

SPLITS: tuple[str, ...] = ("train", "test")

#: Folder names of each release, per split and modality.
RELEASE_DIRS: dict[str, dict[str, dict[str, str]]] = {
    "full": {
        "train": {
            "aerial": "flair_aerial_train",
            "sen": "flair_sen_train",
            "labels": "flair_labels_train",
        },
        "test": {
            "aerial": "flair_2_aerial_test",
            "sen": "flair_2_sen_test",
            "labels": "flair_2_labels_test",
        },
    },
    "toy": {
        "train": {
            "aerial": "flair_2_toy_aerial_train",
            "sen": "flair_2_toy_sen_train",
            "labels": "flair_2_toy_labels_train",
        },
        "test": {
            "aerial": "flair_2_toy_aerial_test",
            "sen": "flair_2_toy_sen_test",
            "labels": "flair_2_toy_labels_test",
        },
    },
}
#: The toy release nests its folders under this one.
TOY_ROOT = "flair_2_toy_dataset"

CENTROIDS_FILE = "flair-2_centroids_sp_to_patch.json"
#: Written at the root of every sample made by ``flair-hdbscan sample-data``: data that is
#: not FLAIR #2 says so.
SAMPLE_MARKER = "flair-hdbscan-sample.json"
METADATA_FILE = "flair_aerial_metadata.json"

AERIAL_SUBDIR = "img"
LABELS_SUBDIR = "msk"
SEN_SUBDIR = "sen"

#: Keys of the ``data:`` section of the reference implementation's YAML config, per split.
CONFIG_KEYS: dict[str, dict[str, str]] = {
    "train": {
        "aerial": "path_aerial_train",
        "sen": "path_sen_train",
        "labels": "path_labels_train",
    },
    "test": {
        "aerial": "path_aerial_test",
        "sen": "path_sen_test",
        "labels": "path_labels_test",
    },
    "common": {
        "centroids": "path_sp_centroids",
        "metadata": "path_metadata_aerial",
    },
}

IMG_RE = re.compile(r"^IMG_(?P<id>\d+)\.tif$")
MSK_RE = re.compile(r"^MSK_(?P<id>\d+)\.tif$")
PRED_RE = re.compile(r"^PRED_(?P<id>\d+)\.tif$")
SEN_RE = re.compile(
    r"^SEN2_sp_(?P<domain>.+?)-(?P<zone>[^-]+)_(?P<kind>data\.npy|masks\.npy|products\.txt)$"
)


def aerial_name(patch_id: str) -> str:
    """File name of the aerial image of a patch (``IMG_<id>.tif``)."""
    return f"IMG_{patch_id}.tif"


def mask_name(patch_id: str) -> str:
    """File name of the label mask of a patch (``MSK_<id>.tif``)."""
    return f"MSK_{patch_id}.tif"


def pred_name(patch_id: str) -> str:
    """File name of a predicted map, as FLAIR's evaluation expects (``PRED_<id>.tif``)."""
    return f"PRED_{patch_id}.tif"


def sentinel_names(domain: str, zone: str) -> dict[str, str]:
    """File names of the Sentinel-2 super area of one domain/zone.

    Returns:
        ``{"data": ..., "masks": ..., "products": ...}``, e.g.
        ``SEN2_sp_D004_2021-Z1_NN_data.npy``.
    """
    stem = f"SEN2_sp_{domain}-{zone}"
    return {
        "data": f"{stem}_data.npy",
        "masks": f"{stem}_masks.npy",
        "products": f"{stem}_products.txt",
    }
