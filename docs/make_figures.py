"""Regenerate the README's figures from a study run on the embedded sample dataset.

Usage (from the repository root)::

    python docs/make_figures.py            # every experiment on the default sample
    python docs/make_figures.py --patches 4  # a smaller freshly generated sample, faster

Writes ``docs/results.png`` (mIoU of every experiment), ``docs/confusion_hdbscan.png``
(confusion matrix of HDBSCAN on raw aerial spectra) and ``docs/samples.png`` (random
patches with their Sentinel-2 context). Each PNG is kept small: drawn at a modest
resolution, then reduced to a 256-colour palette when it is larger than ``--max-kb``.
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

from flair_hdbscan import plots
from flair_hdbscan.atomic import atomic_path
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.sample_data import default_sample_root, generate_sample
from flair_hdbscan.study import StudyOptions, run_study

log = logging.getLogger("make_figures")

DOCS = Path(__file__).resolve().parent


def write_small_png(fig, path: Path, dpi: int, max_kb: int) -> Path:
    """Save ``fig`` as a PNG of at most about ``max_kb`` kilobytes.

    Args:
        fig: the matplotlib figure (closed afterwards).
        path: the PNG to write (atomically).
        dpi: resolution.
        max_kb: above this size the image is reduced to a 256-colour palette.

    Returns:
        ``path``.
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    data = buffer.getvalue()
    if len(data) > max_kb * 1024:
        with Image.open(io.BytesIO(data)) as image:
            palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
            out = io.BytesIO()
            palette.save(out, format="PNG", optimize=True)
            data = out.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    log.info("wrote %s (%d KB)", path, len(data) // 1024)
    return path


def main(argv: list[str] | None = None) -> None:
    """Run the study on the sample and write the README figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--patches",
        type=int,
        default=None,
        help="generate a sample of this many patches instead of using the default sample",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the study and sample")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the PNGs")
    parser.add_argument("--dpi", type=int, default=72, help="resolution of the PNGs")
    parser.add_argument("--max-kb", type=int, default=150, help="size above which to quantise")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory(prefix="flair-hdbscan-docs-") as tmp:
        if args.patches is None:
            root = default_sample_root(progress=True)
        else:
            root = generate_sample(Path(tmp) / "sample", n_patches=args.patches, seed=args.seed)
        ds = FlairDataset.from_root(root)
        log.info("running every experiment on %d patches of %s", len(ds), root)
        result = run_study(ds, "all", StudyOptions(seed=args.seed, map_patches=0))
        results = result.to_dict()
        hdbscan = result.experiment("hdbscan")
        write_small_png(
            plots.plot_results(results), args.out / "results.png", args.dpi, args.max_kb
        )
        write_small_png(
            plots.plot_confusion(
                np.asarray(hdbscan["confusion_matrix"]), "hdbscan (oracle mapping)", hdbscan["miou"]
            ),
            args.out / "confusion_hdbscan.png",
            args.dpi,
            args.max_kb,
        )
        write_small_png(
            plots.plot_samples(ds, n=2, seed=args.seed),
            args.out / "samples.png",
            args.dpi,
            args.max_kb,
        )


if __name__ == "__main__":
    main()
