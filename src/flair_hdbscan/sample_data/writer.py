"""Writing the release tree: GeoTIFF patches, Sentinel-2 arrays, centroids, metadata, config.

File and folder names come from :mod:`flair_hdbscan.layout`; rendering from ``aerial`` and
``sentinel``. Nothing here draws random land cover: it only renders, places and writes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flair_hdbscan import layout as flair_layout
from flair_hdbscan.sample_data.aerial import render_patch
from flair_hdbscan.sample_data.geometry import HALF, PATCH, RES, SEN_RES
from flair_hdbscan.sample_data.landcover import World
from flair_hdbscan.sample_data.sentinel import render_sentinel


def root_name(layout_name: str) -> str:
    """Sub-folder of ``out`` holding the release: ``""`` (full) or ``flair_2_toy_dataset``."""
    return flair_layout.TOY_ROOT if layout_name == "toy" else ""


def write_zone(
    root: Path,
    layout_name: str,
    world: World,
    centroids: dict[str, list[int]],
    metadata: dict[str, dict[str, object]],
    advance: Callable[[], None],
) -> None:
    """Write the Sentinel-2 files and every patch of one zone; fill centroids and metadata.

    Args:
        root: release root.
        layout_name: ``"full"`` or ``"toy"``.
        world: the zone, with its objects placed.
        centroids: ``IMG_<id>.tif`` → ``[row, col]``, filled in place.
        metadata: ``IMG_<id>`` → aerial metadata, filled in place.
        advance: called once per patch written.
    """
    import rasterio
    from affine import Affine

    plan = world.plan
    dirs = flair_layout.RELEASE_DIRS[layout_name][plan.split]
    data, masks, products = render_sentinel(world)
    sen_dir = root / dirs["sen"] / plan.domain / plan.zone / flair_layout.SEN_SUBDIR
    sen_dir.mkdir(parents=True, exist_ok=True)
    names = flair_layout.sentinel_names(plan.domain, plan.zone)
    np.save(sen_dir / names["data"], data)
    np.save(sen_dir / names["masks"], masks)
    (sen_dir / names["products"]).write_text("\n".join(products) + "\n", encoding="utf-8")

    img_dir = root / dirs["aerial"] / plan.domain / plan.zone / flair_layout.AERIAL_SUBDIR
    msk_dir = root / dirs["labels"] / plan.domain / plan.zone / flair_layout.LABELS_SUBDIR
    img_dir.mkdir(parents=True, exist_ok=True)
    msk_dir.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": PATCH,
        "width": PATCH,
        "dtype": "uint8",
        "crs": "EPSG:2154",
        "compress": "lzw",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    rng = np.random.default_rng([plan.index, 4, int(world.rng.integers(2**31))])
    day = dt.date(plan.year, 4, 15) + dt.timedelta(days=int(rng.integers(0, 150)))
    for patch_id, (row, col) in zip(plan.patch_ids, plan.centroids, strict=True):
        image, mask = render_patch(world, row, col, rng)
        x_c = plan.x0 + col * SEN_RES
        y_c = plan.y0 - row * SEN_RES
        transform = Affine(RES, 0.0, x_c - HALF, 0.0, -RES, y_c + HALF)  # from_origin
        with rasterio.open(
            img_dir / flair_layout.aerial_name(patch_id),
            "w",
            count=5,
            transform=transform,
            **profile,
        ) as dst:
            dst.write(image)
        with rasterio.open(
            msk_dir / flair_layout.mask_name(patch_id),
            "w",
            count=1,
            transform=transform,
            **profile,
        ) as dst:
            dst.write(mask, 1)
        centroids[flair_layout.aerial_name(patch_id)] = [int(row), int(col)]
        ground = plan.altitude + float(rng.normal(0, 15))
        metadata[f"IMG_{patch_id}"] = {
            "domain": plan.domain,
            "zone": plan.zone,
            "x": round(x_c + float(rng.uniform(-400, 400)), 2),
            "y": round(y_c + float(rng.uniform(-400, 400)), 2),
            "z": round(ground + float(rng.uniform(2800, 5200)), 2),
            "camera": plan.camera,
            "date": day.isoformat(),
            "time": f"{int(rng.integers(9, 15))}h{int(rng.integers(0, 60)):02d}",
            "patch_centroid_x": round(x_c, 2),
            "patch_centroid_y": round(y_c, 2),
            "patch_centroid_z": round(ground, 2),
        }
        advance()


def write_shared_files(
    root: Path,
    layout_name: str,
    centroids: dict[str, list[int]],
    metadata: dict[str, dict[str, object]],
    provenance: dict[str, object],
) -> None:
    """Write the files shared by both splits: centroids, aerial metadata, config, marker.

    Args:
        root: release root.
        layout_name: ``"full"`` or ``"toy"``.
        centroids: ``IMG_<id>.tif`` → ``[row, col]`` of every patch.
        metadata: ``IMG_<id>`` → aerial metadata of every patch.
        provenance: what generated the sample (generator version, seed, patches), written
            to :data:`~flair_hdbscan.layout.SAMPLE_MARKER` so that a report on it can say it
            is not FLAIR #2.
    """
    (root / flair_layout.SAMPLE_MARKER).write_text(
        json.dumps(provenance, sort_keys=True) + "\n", encoding="utf-8"
    )
    (root / flair_layout.CENTROIDS_FILE).write_text(
        json.dumps(dict(sorted(centroids.items()))) + "\n", encoding="utf-8"
    )
    (root / flair_layout.METADATA_FILE).write_text(
        json.dumps(dict(sorted(metadata.items())), indent=2) + "\n", encoding="utf-8"
    )
    (root / "flair-2-config.yml").write_text(_config_text(layout_name), encoding="utf-8")


def _config_text(layout_name: str) -> str:
    """The reference implementation's ``flair-2-config.yml``, naming this sample.

    Every key of the reference config is there, with the reference's values, except the
    ``data:`` paths (this sample's folders) and ``accelerator`` (``cpu``: the sample is for
    machines without a GPU). The reference opens its paths as given, so relative paths are
    resolved against the working directory: they name the folders beside this file, for
    the reference run from this folder (the project's own reader resolves them against the
    file's folder, which gives the same paths from anywhere).
    """
    dirs = flair_layout.RELEASE_DIRS[layout_name]
    train, test = dirs["train"], dirs["test"]
    return f"""\
# FLAIR #2 reference implementation config (IGNF/FLAIR-2 flair-2-config.yml) for this sample.
# Paths are relative to this folder: run the reference from here.
data:
    path_aerial_train: "./{train["aerial"]}/"
    path_sen_train: "./{train["sen"]}/"
    path_labels_train: "./{train["labels"]}/"

    path_aerial_test: "./{test["aerial"]}/"
    path_sen_test: "./{test["sen"]}/"
    path_labels_test: "./{test["labels"]}/"

    path_sp_centroids: "./{flair_layout.CENTROIDS_FILE}"
    path_metadata_aerial: "./{flair_layout.METADATA_FILE}"

out_folder: "./flair2/"
out_model_name: "flair-2-baseline"

#Fusion
sat_patch_size: 40 # in [8,112] and multiple of 8
w_unet_utae: [1,1]
drop_utae_modality: 0.0 # 1 = dropping U-TAE branch

# MTD and AUG
aerial_metadata: True
geo_enc_size: 32
use_augmentation: True

# Sentinel Time Series filtering
filter_clouds: True
average_month: True

# Weighting
weights_aerial_satellite:
                         building               : [1,1]
                         pervious surface       : [1,1]
                         impervious surface     : [1,1]
                         bare soil              : [1,1]
                         water                  : [1,1]
                         coniferous             : [1,1]
                         deciduous              : [1,1]
                         brushwood              : [1,1]
                         vineyard               : [1,1]
                         herbaceous vegetation  : [1,1]
                         agricutural land       : [1,1]
                         plowed land            : [1,0]
                         other                  : [0,0]

# Inputs
num_classes: 13
num_channels_aerial: 5
num_channels_sat: 10
# Training
num_epochs: 100
batch_size: 10
batch_size_inference: 1
lr: 0.001

# Computation
num_workers: 10
accelerator: cpu # gpu in the reference config
gpus_per_node: 1
num_nodes: 1
strategy: null # ddp if multi-gpu


# UTAE Model
encoder_widths: [64,64,128,128] # 1st and last must be equivalent to decoder_widths
decoder_widths: [64,64,128,128] # 1st and last must be equivalent to encoder_widths
out_conv: [32, 13]
str_conv_k: 4
str_conv_s: 2
str_conv_p: 1
agg_mode: att_group
encoder_norm: group
n_head: 16
d_model: 256
d_k: 4
ref_year: 2021 # defined for whole dataset
ref_date: 05-15 # defined for whole dataset
pad_value: 0
padding_mode: reflect

#Tracking
enable_progress_bar: True
progress_rate: 10
"""
