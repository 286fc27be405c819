"""Self-contained HTML report of a study run, and the figures it shows.

:func:`write_figures` draws every figure of a run into a folder (PNG, modest resolution):
the nomenclature, the class distribution of the split, random samples, the results chart,
one confusion matrix per experiment and the prediction maps kept by the run.
:func:`write_report` assembles one HTML page that embeds those images as ``data:`` URIs
and needs nothing else to open: no stylesheet, script or font is fetched.

What the page says is computed apart from how it is laid out: :func:`oracle_experiments`,
:func:`experiment_rows`, :func:`class_counts`, :func:`headline` and :func:`dataset_facts`
return plain data; the ``_html_*`` helpers turn it into markup, escaping every piece of
text with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flair_hdbscan import plots
from flair_hdbscan.atomic import write_text
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.nomenclature import N_CLASSES, REDUCED_COLOURS, REDUCED_NAMES

if TYPE_CHECKING:
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.study import StudyResult

__all__ = [
    "FIGURE_DPI",
    "PUBLISHED_REFERENCES",
    "class_counts",
    "confusion_key",
    "dataset_facts",
    "experiment_rows",
    "headline",
    "map_key",
    "oracle_experiments",
    "render_report",
    "write_figures",
    "write_report",
]

logger = logging.getLogger(__name__)

#: Resolution of the report's PNGs (pixels per inch of the figure size).
FIGURE_DPI = 90
#: Resolution of the prediction maps (wider figures, so a little coarser).
MAP_DPI = 72

#: Published supervised references on the FLAIR #2 test set (Garioud et al., NeurIPS 2023
#: Datasets and Benchmarks, arXiv:2310.13336): ``(model, inputs, mIoU)``.
PUBLISHED_REFERENCES: tuple[tuple[str, str, float], ...] = (
    ("U-Net (ResNet34 encoder)", "aerial imagery", 0.547),
    ("U-T&T (U-Net + U-TAE)", "aerial imagery + Sentinel-2 time series", 0.576),
)

QUESTION = (
    "Can density-based clustering (HDBSCAN) stand in for manual annotation when mapping "
    "land cover from very-high-resolution aerial imagery, optionally fused with Sentinel-2 "
    "time series?"
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1rem 2rem 3rem; color: #1d1d1d; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.oracle td { background: #fff7e6; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
.note { background: #fff7e6; border-left: 4px solid #e39b00; padding: 0.6rem 1rem; }
.caveat { background: #eef4fb; border-left: 4px solid #4c72b0; padding: 0.6rem 1rem; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #555;
          vertical-align: middle; margin-right: 0.3em; }
code { background: #f4f4f4; padding: 0 0.2em; }
nav ul { columns: 2; }
details { margin: 0.4rem 0; }
summary { cursor: pointer; }
"""


# --------------------------------------------------------------------------------------------
# Figure keys
# --------------------------------------------------------------------------------------------


def confusion_key(name: str) -> str:
    """Key of an experiment's confusion-matrix figure in :func:`write_figures`' result."""
    return f"confusion:{name}"


def map_key(name: str, patch_id: str) -> str:
    """Key of an experiment's prediction-map figure of one patch."""
    return f"map:{name}:{patch_id}"


# --------------------------------------------------------------------------------------------
# What the report says: plain data
# --------------------------------------------------------------------------------------------


def _experiments(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    experiments = results.get("experiments")
    if not isinstance(experiments, list):
        raise ValueError('results hold no "experiments" list: is it a results.json of `run`?')
    return experiments


def oracle_experiments(results: Mapping[str, Any]) -> list[str]:
    """Names of the experiments whose clusters were named with the oracle mapping.

    Args:
        results: ``{"run": ..., "experiments": [...]}`` as in ``results.json``.

    Returns:
        Names in run order: HDBSCAN experiments whose ``mapping`` is ``"oracle"``.
    """
    return [e["name"] for e in _experiments(results) if e.get("mapping") == "oracle"]


def class_counts(results: Mapping[str, Any]) -> np.ndarray:
    """Labelled pixels of each reduced class over the evaluated split.

    Every experiment scores every labelled pixel of the split, so the row sums of any of its
    confusion matrices are the split's class counts: the same numbers as
    :func:`flair_hdbscan.dataset.class_distribution`, without reading the masks again.

    Args:
        results: as for :func:`oracle_experiments`.

    Returns:
        ``(13,)`` int64 pixel counts of classes 0..12.

    Raises:
        ValueError: if the results hold no experiment.
    """
    experiments = _experiments(results)
    if not experiments:
        raise ValueError("the results hold no experiment: nothing was evaluated")
    cm = np.asarray(experiments[0]["confusion_matrix"], dtype=np.int64)
    return cm.sum(axis=1)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def experiment_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per experiment with the numbers of the report's results table.

    Args:
        results: as for :func:`oracle_experiments`.

    Returns:
        Dicts with ``name``, ``part``, ``method``, ``features`` (enabled feature options,
        comma-separated, ``"raw"`` when none, ``""`` for naive baselines), ``miou``, ``oa``
        (floats or None), ``train_pixels``, ``eval_pixels``, ``labels_used`` (int),
        ``clusters`` (int or None), ``noise``, ``purity`` (fractions or None), ``mapping``
        (str or None), ``seconds`` (float) and ``miou_check`` (the mIoU recomputed from
        the confusion matrix, which should equal ``miou``).
    """
    rows = []
    for e in _experiments(results):
        features = e.get("features") or {}
        enabled = [k for k, v in features.items() if v]
        naive = str(e.get("method", "")).startswith("naive")
        rows.append(
            {
                "name": str(e["name"]),
                "part": e.get("part"),
                "method": str(e.get("method", "")),
                "features": "" if naive else (", ".join(enabled) or "raw"),
                "miou": _number(e.get("miou")),
                "oa": _number(e.get("overall_accuracy")),
                "train_pixels": int(e.get("n_train_pixels") or 0),
                "eval_pixels": int(e.get("n_eval_pixels") or 0),
                "labels_used": int(e.get("n_labels_used") or 0),
                "clusters": e.get("n_clusters"),
                "noise": _number(e.get("noise_fraction")),
                "purity": _number(e.get("cluster_purity")),
                "largest": _number(e.get("largest_cluster_fraction")),
                "mapping": e.get("mapping"),
                "seconds": float(e.get("seconds") or 0.0),
                "miou_check": _number(mean_iou(np.asarray(e["confusion_matrix"]))),
            }
        )
    return rows


def headline(results: Mapping[str, Any]) -> dict[str, tuple[str, float] | None]:
    """Best experiment of each method by mIoU.

    Args:
        results: as for :func:`oracle_experiments`.

    Returns:
        ``{"knn": (name, miou) or None, "hdbscan": ..., "naive": ...}``; ``naive`` is the
        better of the two random baselines. Experiments without an mIoU are skipped.
    """
    best: dict[str, tuple[str, float] | None] = {"knn": None, "hdbscan": None, "naive": None}
    for row in experiment_rows(results):
        if row["miou"] is None:
            continue
        group = "naive" if row["method"].startswith("naive") else row["method"]
        if group in best and (best[group] is None or row["miou"] > best[group][1]):
            best[group] = (row["name"], row["miou"])
    return best


def dataset_facts(summary: Mapping[str, Any], run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The dataset's facts as ``(label, text)`` pairs.

    Args:
        summary: :meth:`FlairDataset.summary` of the evaluated split.
        run: the run's metadata (``results.json["run"]``).

    Returns:
        Pairs for the split, patches, domains, Sentinel-2 areas and dates, training sample,
        folder and fingerprint.
    """
    per_domain = summary.get("patches_per_domain", {})
    domains = ", ".join(f"{d} ({n})" for d, n in per_domain.items())
    facts = [
        ("split", str(summary.get("split", ""))),
        ("patches", f"{int(summary.get('n_patches', 0)):,}"),
        ("domains", f"{len(per_domain)}: {domains}"),
        (
            "Sentinel-2 super areas",
            f"{summary.get('n_areas', 0)} ({', '.join(summary.get('areas', []))}); "
            f"{summary.get('t_min')}–{summary.get('t_max')} dates per area",
        ),
        ("training sample", f"{int(run.get('n_train_sample', 0)):,} pixels"),
        ("folder", str(run.get("dataset", {}).get("root", ""))),
        ("fingerprint", str(summary.get("fingerprint", ""))),
    ]
    return facts


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def write_figures(result: StudyResult, ds: FlairDataset, out_dir: Path) -> dict[str, Path]:
    """Draw every figure of a run as PNGs in ``out_dir``.

    Args:
        result: the run.
        ds: the split the run evaluated.
        out_dir: folder for the PNGs (created if missing).

    Returns:
        Paths by key: ``"nomenclature"``, ``"class-distribution"``, ``"samples"``,
        ``"results"``, :func:`confusion_key` of each experiment (``confusion_<name>.png``)
        and :func:`map_key` of each experiment and kept patch (``map_<name>_<patch>.png``;
        HDBSCAN maps add the cluster map).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = result.to_dict()
    seed = int(result.run.get("seed", 0))
    figures: dict[str, Path] = {}

    def save(key: str, fig: Any, name: str, dpi: int = FIGURE_DPI) -> None:
        figures[key] = plots.save_figure(fig, out_dir / name, dpi=dpi)

    save("nomenclature", plots.plot_nomenclature(), "nomenclature.png")
    save(
        "class-distribution",
        plots.plot_class_distribution(class_counts(results)),
        "class_distribution.png",
    )
    if len(ds) > 0:
        save("samples", plots.plot_samples(ds, n=min(2, len(ds)), seed=seed), "samples.png")
    save("results", plots.plot_results(results), "results.png")
    for e in result.experiments:
        fig = plots.plot_confusion(
            np.asarray(e["confusion_matrix"]), e["name"], _number(e.get("miou"))
        )
        save(confusion_key(e["name"]), fig, f"confusion_{e['name']}.png")
    for patch_id, maps in result.maps.items():
        for name, pred in maps["pred"].items():
            fig = plots.plot_prediction_maps(
                maps["rgb"],
                maps["truth"],
                pred,
                maps["clusters"].get(name),
                title=f"{name} — patch {patch_id}",
            )
            save(map_key(name, patch_id), fig, f"map_{name}_{patch_id}.png", dpi=MAP_DPI)
    logger.info("wrote %d figures to %s", len(figures), out_dir)
    return figures


# --------------------------------------------------------------------------------------------
# HTML assembly
# --------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _html_img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return f'<p class="note">Figure missing: {_e(alt)}.</p>'
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Iterable[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table whose cells are already-escaped HTML fragments."""
    numeric = set(numeric)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        cls = f' class="{_e(row_classes[r])}"' if row_classes and row_classes[r] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_pairs(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{rows}</tbody></table>"


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"<code>{_e(n)}</code>" for n in names)


def _html_oracle(results: Mapping[str, Any]) -> str:
    oracle = oracle_experiments(results)
    other = [
        (e["name"], e.get("mapping"))
        for e in _experiments(results)
        if e.get("method") == "hdbscan" and e.get("mapping") != "oracle"
    ]
    parts = []
    if oracle:
        parts.append(
            f"<p><strong>Oracle mapping.</strong> These {len(oracle)} experiments use the "
            f"oracle cluster-to-class mapping: {_names(oracle)}. Each HDBSCAN cluster takes "
            "the majority true class of its members, so the ground truth of every clustered "
            "training pixel is read to name the clusters. Their scores are therefore "
            "optimistic: a workflow that names clusters without reading that many labels "
            "should expect less.</p>"
        )
    else:
        parts.append("<p>No experiment of this run uses the oracle cluster-to-class mapping.</p>")
    if other:
        described = ", ".join(f"<code>{_e(n)}</code> ({_e(m)})" for n, m in other)
        parts.append(
            "<p>These HDBSCAN experiments name their clusters from a small, counted label "
            f"budget instead (the labels used are in the results table): {described}.</p>"
        )
    return f'<div class="note">{"".join(parts)}</div>'


def _html_headline(results: Mapping[str, Any]) -> str:
    best = headline(results)
    sentences = []
    if best["hdbscan"] is not None:
        name, score = best["hdbscan"]
        sentences.append(f"best HDBSCAN experiment <code>{_e(name)}</code>: mIoU {score:.3f}")
    if best["knn"] is not None:
        name, score = best["knn"]
        sentences.append(
            f"best kNN experiment (trained on ground truth) <code>{_e(name)}</code>: "
            f"mIoU {score:.3f}"
        )
    if best["naive"] is not None:
        name, score = best["naive"]
        sentences.append(f"better random baseline <code>{_e(name)}</code>: mIoU {score:.3f}")
    if not sentences:
        return ""
    return "<p>In this run: " + "; ".join(sentences) + ".</p>"


def _html_results_table(results: Mapping[str, Any]) -> str:
    headers = (
        "experiment", "part", "method", "features", "mIoU", "OA", "train pixels",
        "eval pixels", "labels used", "clusters", "noise", "purity", "largest", "mapping",
        "seconds",
    )  # fmt: skip
    rows, classes = [], []
    for r in experiment_rows(results):
        rows.append(
            (
                f'<a href="#exp-{_e(r["name"])}">{_e(r["name"])}</a>',
                _e(r["part"] if r["part"] is not None else "—"),
                _e(r["method"]),
                _e(r["features"] or "—"),
                _fmt(r["miou"]),
                _fmt(r["oa"]),
                f"{r['train_pixels']:,}",
                f"{r['eval_pixels']:,}",
                f"{r['labels_used']:,}",
                "—" if r["clusters"] is None else f"{int(r['clusters']):,}",
                _pct(r["noise"]),
                _pct(r["purity"]),
                _pct(r["largest"]),
                _e(r["mapping"] or "—"),
                f"{r['seconds']:.1f}",
            )
        )
        classes.append("oracle" if r["mapping"] == "oracle" else "")
    return _html_table(headers, rows, numeric=(*range(4, 13), 14), row_classes=classes) + (
        "<p>mIoU: mean IoU of the 12 scored classes in FLAIR's convention (one confusion "
        "matrix summed over every labelled pixel of the split, class “other” left out). "
        "OA: overall accuracy. Labels used: ground-truth labels each model read (every "
        "training pixel for kNN; for HDBSCAN, those its cluster-to-class mapping read). "
        "Noise: share of the training sample HDBSCAN left unclustered. Purity: share of "
        "clustered pixels whose true class is their cluster's majority class. Largest: share "
        "of the clustered pixels in the largest cluster — near 100 %, HDBSCAN merged almost "
        "everything into one cluster and every pixel gets one class. Highlighted rows use "
        "the oracle mapping.</p>"
    )


def _html_table_intro(counts: np.ndarray) -> str:
    return (
        f"<p>{int(counts.sum()):,} labelled pixels, counted in the reduced nomenclature "
        "(13 classes; values 13–19 fold into “other”, which the mIoU leaves out).</p>"
    )


def _html_class_table(counts: np.ndarray) -> str:
    shares = plots.class_shares(counts)
    rows = [
        (
            f'<span class="swatch" style="background:{_e(REDUCED_COLOURS[k])}"></span>'
            f"{_e(REDUCED_NAMES[k])}",
            str(k),
            f"{int(counts[k]):,}",
            f"{100 * shares[k]:.2f} %",
        )
        for k in range(N_CLASSES)
    ]
    rows.append(("<strong>total</strong>", "", f"{int(counts.sum()):,}", "100 %"))
    return _html_table(("class", "value", "pixels", "share"), rows, numeric=(1, 2, 3))


def _html_references(results: Mapping[str, Any]) -> str:
    rows = [(_e(m), _e(i), f"{v:.3f}") for m, i, v in PUBLISHED_REFERENCES]
    return (
        _html_table(("supervised model (published)", "inputs", "mIoU"), rows, numeric=(2,))
        + '<p class="caveat">These are deep networks trained on the full FLAIR #2 training '
        "set and scored on its test set (Garioud et al., NeurIPS 2023 Datasets and "
        "Benchmarks, arXiv:2310.13336). This run trains per-pixel models, without spatial "
        "context, on a 1 % pixel sample and scores every pixel of that same split (99 % of "
        "them unseen in training): the numbers give context, they are not comparable one to "
        "one.</p>"
    )


def _html_confusions(results: Mapping[str, Any], figures: Mapping[str, Path]) -> str:
    sections = []
    for e in _experiments(results):
        name = str(e["name"])
        note = ""
        if e.get("mapping") == "oracle":
            note = '<p class="note">Oracle cluster-to-class mapping: optimistic score.</p>'
        sections.append(
            f'<section id="exp-{_e(name)}"><h3>{_e(name)}</h3>'
            f"<p>mIoU {_fmt(_number(e.get('miou')))}, overall accuracy "
            f"{_fmt(_number(e.get('overall_accuracy')))} (rows: true class, normalised to 1; "
            f"columns: predicted class).</p>{note}"
            f"{_html_img(figures.get(confusion_key(name)), f'confusion matrix of {name}')}"
            "</section>"
        )
    return "".join(sections)


def _html_maps(result: StudyResult, figures: Mapping[str, Path]) -> str:
    if not result.maps:
        return "<p>The run kept no prediction map (<code>--map-patches 0</code>).</p>"
    blocks = [
        "<p>RGB, ground truth and prediction of the first patches of the split; HDBSCAN "
        "experiments add the cluster map (black: pixels of no cluster). Open an experiment "
        "to see its maps.</p>"
    ]
    for patch_id, maps in result.maps.items():
        blocks.append(f"<h3>Patch {_e(patch_id)}</h3>")
        for i, name in enumerate(maps["pred"]):
            key = map_key(name, patch_id)
            opened = " open" if i == 0 or name == "hdbscan" else ""
            blocks.append(
                f"<details{opened}><summary>{_e(name)}</summary>"
                f"{_html_img(figures.get(key), f'prediction maps of {name}, patch {patch_id}')}"
                "</details>"
            )
    return "".join(blocks)


def _html_metadata(run: Mapping[str, Any]) -> str:
    dataset = run.get("dataset", {})
    seconds = run.get("seconds", {})
    general = [
        ("seed", run.get("seed")),
        ("experiments", ", ".join(run.get("experiments", []))),
        ("dataset split", dataset.get("split")),
        ("dataset patches", dataset.get("n_patches")),
        ("dataset fingerprint", dataset.get("fingerprint")),
        ("dataset folder", dataset.get("root")),
    ]
    timings = [(f"{k} (s)", f"{float(v):.1f}") for k, v in seconds.items()]
    options = sorted((run.get("options") or {}).items())
    versions = sorted((run.get("versions") or {}).items())
    return (
        "<h3>Run</h3>" + _html_pairs(general)
        + "<h3>Timings</h3>" + _html_pairs(timings)
        + "<h3>Options</h3>" + _html_pairs((k, "None" if v is None else v) for k, v in options)
        + "<h3>Package versions</h3>" + _html_pairs(versions)
    )  # fmt: skip


_SECTIONS = (
    ("question", "The question"),
    ("dataset", "Dataset"),
    ("results", "Results"),
    ("references", "Published supervised references"),
    ("confusion", "Confusion matrices"),
    ("maps", "Prediction maps"),
    ("metadata", "Run metadata"),
)


def render_report(
    result: StudyResult, summary: Mapping[str, Any], figures: Mapping[str, Path]
) -> str:
    """The report page as a string.

    Args:
        result: the run.
        summary: :meth:`FlairDataset.summary` of the evaluated split.
        figures: PNG paths by key, as :func:`write_figures` returns them.

    Returns:
        An HTML5 document whose images are embedded as base64 ``data:`` URIs.
    """
    results = result.to_dict()
    run = result.run
    counts = class_counts(results)
    nav = "".join(f'<li><a href="#{sid}">{_e(title)}</a></li>' for sid, title in _SECTIONS)
    body = {
        "question": (
            f"<p><strong>{_e(QUESTION)}</strong></p>"
            "<p>Each experiment labels every pixel of the split and is scored against the "
            "ground truth. kNN is trained on the ground truth of a 1 % pixel sample (every "
            "10th pixel along each axis). HDBSCAN clusters the same sample without labels; "
            "its clusters are then named with classes and a kNN trained on the clustered "
            "pixels labels every pixel. Random baselines show the floor.</p>"
            + _html_headline(results)
            + _html_oracle(results)
        ),
        "dataset": (
            _html_pairs(dataset_facts(summary, run))
            + "<h3>Class distribution</h3>"
            + _html_table_intro(counts)
            + _html_class_table(counts)
            + _html_img(figures.get("class-distribution"), "class distribution")
            + "<h3>Nomenclature</h3>"
            + _html_img(figures.get("nomenclature"), "FLAIR nomenclatures")
            + "<h3>Random samples</h3>"
            + "<p>Aerial RGB, mask, mask over RGB, Sentinel-2 super area with the super "
            "patch, super patch with the aerial footprint (red), and the Sentinel-2 pixels "
            "under the footprint.</p>" + _html_img(figures.get("samples"), "random samples")
        ),
        "results": (
            _html_results_table(results)
            + _html_img(figures.get("results"), "mIoU of every experiment")
        ),
        "references": _html_references(results),
        "confusion": _html_confusions(results, figures),
        "maps": _html_maps(result, figures),
        "metadata": _html_metadata(run),
    }
    sections = "".join(
        f'<section id="{sid}"><h2>{_e(title)}</h2>{body[sid]}</section>' for sid, title in _SECTIONS
    )
    dataset = run.get("dataset", {})
    subtitle = (
        f"{dataset.get('split', '')} split, {dataset.get('n_patches', 0)} patches, "
        f"seed {run.get('seed')}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>flair-hdbscan report</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>flair-hdbscan report</h1>\n<p>{_e(subtitle)}</p>\n"
        f"<nav><ul>{nav}</ul></nav>\n{sections}\n</body>\n</html>\n"
    )


def write_report(
    result: StudyResult, ds: FlairDataset, figures: Mapping[str, Path], path: Path
) -> Path:
    """Write the run's self-contained HTML report.

    Args:
        result: the run.
        ds: the split the run evaluated (its summary is shown).
        figures: PNG paths by key, as :func:`write_figures` returns them.
        path: the HTML file to write (atomically).

    Returns:
        ``path``.
    """
    page = render_report(result, ds.summary(), figures)
    out = write_text(Path(path), page)
    logger.info("wrote %s (%.1f MB)", out, len(page) / 1e6)
    return out
