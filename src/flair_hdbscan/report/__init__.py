"""Self-contained HTML report of a study run, and the figures it shows.

:func:`write_figures` draws every figure of a run into a folder (PNG, modest resolution).
:func:`render_report` fills the Jinja2 template ``templates/report.html.j2`` (autoescaped)
with what :mod:`flair_hdbscan.report.content` computes, embedding the images as ``data:``
URIs: the page needs nothing else to open. When the run holds the label-budget study, the
page opens with its verdict, before the reproduction of the notebook's experiments.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
from markupsafe import Markup

from flair_hdbscan import plots
from flair_hdbscan.atomic import write_text
from flair_hdbscan.nomenclature import N_CLASSES, REDUCED_COLOURS, REDUCED_NAMES
from flair_hdbscan.plots.budget import plot_budget
from flair_hdbscan.report.content import (
    PUBLISHED_REFERENCES,
    QUESTION,
    budget_section,
    class_counts,
    dataset_facts,
    headline,
    oracle_experiments,
)
from flair_hdbscan.results import experiment_rows

if TYPE_CHECKING:
    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.study import StudyResult

__all__ = [
    "FIGURE_DPI",
    "confusion_key",
    "map_key",
    "render_report",
    "write_figures",
    "write_report",
]

logger = logging.getLogger(__name__)

#: Resolution of the report's PNGs (pixels per inch of the figure size).
FIGURE_DPI = 90
#: Resolution of the prediction maps (wider figures, so a little coarser).
MAP_DPI = 72

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("flair_hdbscan.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def confusion_key(name: str) -> str:
    """Key of an experiment's confusion-matrix figure in :func:`write_figures`' result."""
    return f"confusion:{name}"


def map_key(name: str, patch_id: str) -> str:
    """Key of an experiment's prediction-map figure of one patch."""
    return f"map:{name}:{patch_id}"


def write_figures(
    result: StudyResult, summary_counts: np.ndarray | None, ds: FlairDataset, out_dir: Path,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:  # fmt: skip
    """Draw every figure of a run as PNGs in ``out_dir``.

    Args:
        result: the run.
        summary_counts: ``(13,)`` pixel counts of the scored split (None: from the results).
        ds: the scored split (random samples are drawn from it).
        out_dir: folder for the PNGs (created if missing).
        extra: more figures already drawn, by key (the budget curves), saved as
            ``<key>.png``.

    Returns:
        Paths by key: ``"nomenclature"``, ``"class-distribution"``, ``"samples"``,
        ``"results"``, :func:`confusion_key` of each experiment and :func:`map_key` of each
        experiment and kept patch, and the keys of ``extra``.
    """
    out_dir = Path(out_dir)
    results = result.to_dict()
    seed = int(result.run.get("seed", 0))
    figures: dict[str, Path] = {}

    def save(key: str, fig: Any, name: str, dpi: int = FIGURE_DPI) -> None:
        figures[key] = plots.save_figure(fig, out_dir / name, dpi=dpi)

    counts = class_counts(results) if summary_counts is None else summary_counts
    save("nomenclature", plots.plot_nomenclature(), "nomenclature.png")
    save("class-distribution", plots.plot_class_distribution(counts), "class_distribution.png")
    if len(ds) > 0:
        save("samples", plots.plot_samples(ds, n=min(2, len(ds)), seed=seed), "samples.png")
    save("results", plots.plot_results(results), "results.png")
    if "budget" in results:
        budget = results["budget"]
        fig = plot_budget(budget["summary"], chance=budget.get("chance_miou"))
        save("budget", fig, "budget.png")
    for key, fig in (extra or {}).items():
        save(key, fig, f"{key}.png")
    for e in result.experiments:
        fig = plots.plot_confusion(np.asarray(e["confusion_matrix"]), e["name"], e.get("miou"))
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


def _img(path: Path | None, alt: str) -> Markup:
    if path is None or not Path(path).is_file():
        return Markup('<p class="note">Figure missing: {}.</p>').format(alt)
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return Markup('<img src="data:image/png;base64,{}" alt="{}">').format(data, alt)


def _pairs(pairs: Any) -> Markup:
    rows = Markup("").join(
        Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, "None" if v is None else v)
        for k, v in pairs
    )
    return Markup("<table><tbody>{}</tbody></table>").format(rows)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def render_report(
    result: StudyResult,
    summary: Mapping[str, Any],
    figures: Mapping[str, Path],
    *,
    generated: str | None = None,
) -> str:
    """The report page as a string.

    Args:
        result: the run.
        summary: :func:`~flair_hdbscan.summary.split_summary` of the scored split.
        figures: PNG paths by key, as :func:`write_figures` returns them.
        generated: a description of the synthetic sample the run read, or None for real
            data: the page then says in its first lines that it is not FLAIR #2.

    Returns:
        An HTML5 document whose images are embedded as base64 ``data:`` URIs.
    """
    results = result.to_dict()
    run = result.run
    budget = budget_section(results["budget"]) if "budget" in results else None
    counts = class_counts(results)
    total = int(counts.sum())
    shares = counts / total if total else np.zeros(N_CLASSES)
    best = headline(results)
    sentences = []
    if best["hdbscan"] is not None:
        sentences.append(
            f"best HDBSCAN experiment {best['hdbscan'][0]}: mIoU {best['hdbscan'][1]:.3f}"
        )
    if best["knn"] is not None:
        name, value = best["knn"]
        sentences.append(f"best kNN experiment (trained on ground truth) {name}: mIoU {value:.3f}")
    if best["naive"] is not None:
        sentences.append(f"better random baseline {best['naive'][0]}: mIoU {best['naive'][1]:.3f}")
    sections = [
        *([("answer", "The answer")] if budget else []),
        ("question", "The question and the reproduction"),
        ("dataset", "Dataset"),
        ("results", "Results of the 17 experiments"),
        ("references", "Published supervised references"),
        ("confusion", "Confusion matrices"),
        ("maps", "Prediction maps"),
        ("metadata", "Run metadata"),
    ]  # fmt: skip
    dataset = run.get("dataset", {})
    template = _ENV.get_template("report.html.j2")
    page = template.render(
        style=Markup(_ENV.loader.get_source(_ENV, "style.css")[0]),  # type: ignore[union-attr]
        run=run,
        generated=generated,
        sections=sections,
        budget=budget,
        question=QUESTION,
        best=sentences,
        oracle=oracle_experiments(results),
        facts=dataset_facts(summary, run),
        total=total,
        classes=[
            {
                "name": REDUCED_NAMES[k],
                "colour": REDUCED_COLOURS[k],
                "value": k,
                "pixels": int(counts[k]),
                "share": float(shares[k]),
            }
            for k in range(N_CLASSES)
        ],
        rows=experiment_rows(results),
        references=PUBLISHED_REFERENCES,
        maps=[(pid, list(maps["pred"])) for pid, maps in result.maps.items()],
        figures=figures,
        general=[
            ("seed", run.get("seed")),
            ("experiments", ", ".join(run.get("experiments", []))),
            ("protocol", run.get("protocol")),
            ("training data digest", dataset.get("train", {}).get("digest")),
            ("scoring data digest", dataset.get("score", {}).get("digest")),
            ("dataset folder", dataset.get("root")),
        ],
        timings=[(f"{k} (s)", f"{float(v):.1f}") for k, v in run.get("seconds", {}).items()],
        options=sorted((run.get("options") or {}).items()),
        versions=sorted((run.get("versions") or {}).items()),
        img=_img,
        pairs=_pairs,
        num=_num,
        pct=_pct,
    )
    return page


def write_report(
    result: StudyResult,
    summary: Mapping[str, Any],
    figures: Mapping[str, Path],
    path: Path,
    **kwargs: Any,
) -> Path:
    """Write the run's self-contained HTML report (atomically); see :func:`render_report`."""
    page = render_report(result, summary, figures, **kwargs)
    out = write_text(Path(path), page)
    logger.info("wrote %s (%.1f MB)", out, len(page) / 1e6)
    return out
