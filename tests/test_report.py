"""The HTML report and its figures, from a real study run on a tiny generated sample.

One full run (every experiment, 2 patches) is shared by the module; the CLI test runs
``flair-hdbscan run`` once more with two experiments on the same sample.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from flair_hdbscan.experiments import EXPERIMENT_NAMES
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.report import confusion_key, map_key, render_report, write_figures, write_report
from flair_hdbscan.report.content import class_counts, headline, oracle_experiments
from flair_hdbscan.results import experiment_rows
from flair_hdbscan.summary import class_distribution, split_summary

PNG_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HDBSCAN_NAMES = [n for n in EXPERIMENT_NAMES if n.startswith("hdbscan")]


class Page(HTMLParser):
    """What a browser would need from the page: images, links, sections and their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.images: list[dict[str, str | None]] = []
        self.section_stack: list[str] = []
        self.section_images: dict[str, int] = {}
        self.section_text: dict[str, list[str]] = {}
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.notes: list[list[str]] = []  # <code> texts of each .note block
        self._note_depth = 0
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "section":
            self.section_stack.append(attrs.get("id") or "")
        elif tag == "img":
            self.images.append(attrs)
            for sid in self.section_stack:
                self.section_images[sid] = self.section_images.get(sid, 0) + 1
        elif tag == "table":
            self.tables.append((self.section_stack[-1] if self.section_stack else "", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "div" and "note" in (attrs.get("class") or ""):
            self._note_depth = 1
            self.notes.append([])
        elif tag == "div" and self._note_depth:
            self._note_depth += 1
        elif tag == "code":
            self._in_code = True

    def handle_endtag(self, tag):
        if tag == "section":
            self.section_stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None
        elif tag == "div" and self._note_depth:
            self._note_depth -= 1
        elif tag == "code":
            self._in_code = False

    def handle_data(self, data):
        for sid in self.section_stack:
            self.section_text.setdefault(sid, []).append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_code and self._note_depth:
            self.notes[-1].append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.section_text.get(section, [])).split())


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def full_run(full, test_ds, tmp_path_factory):
    """The session's full run (every experiment), its figures and its report."""
    out = tmp_path_factory.mktemp("report")
    figures = write_figures(full, None, test_ds, out / "figures")
    path = write_report(full, split_summary(test_ds), figures, out / "report.html")
    page = path.read_text(encoding="utf-8")
    return {"ds": test_ds, "result": full, "figures": figures, "path": path, "page": page}


@pytest.fixture(scope="module")
def parsed(full_run) -> Page:
    return parse(full_run["page"])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


# -- the page as a whole ---------------------------------------------------------------------


def test_page_is_html5_with_language_and_charset(full_run):
    page = full_run["page"]
    assert page.startswith("<!DOCTYPE html>")
    tags = parse(page).tags
    assert ("html", {"lang": "en"}) in tags
    assert any(t == "meta" and a.get("charset") == "utf-8" for t, a in tags)
    assert [t for t, _ in tags].count("title") == 1


def test_every_image_is_an_embedded_png(parsed, full_run):
    assert parsed.images, "the report shows no image"
    for img in parsed.images:
        src = img["src"] or ""
        assert src.startswith(PNG_PREFIX), src[:60]
        width, height = png_size(base64.b64decode(src[len(PNG_PREFIX) :], validate=True))
        assert width > 100 and height > 100
        assert img.get("alt")
    # every figure written is shown, each once
    assert len(parsed.images) == len(full_run["figures"])


def test_page_fetches_nothing(parsed, full_run):
    page = full_run["page"]
    assert "http://" not in page and "https://" not in page
    assert not [t for t, _ in parsed.tags if t in ("script", "link", "iframe", "object")]
    for _, attrs in parsed.tags:
        if "src" in attrs:
            assert (attrs["src"] or "").startswith("data:")
        if "href" in attrs:
            assert (attrs["href"] or "").startswith("#")
    anchors = {a["id"] for _, a in parsed.tags if a.get("id")}
    links = {a["href"][1:] for t, a in parsed.tags if t == "a" and a.get("href")}
    assert links <= anchors


def test_one_confusion_matrix_per_experiment(parsed, full_run):
    names = [e["name"] for e in full_run["result"].experiments]
    assert names == list(EXPERIMENT_NAMES) and len(names) == 17
    for name in names:
        assert parsed.section_images.get(f"exp-{name}") == 1, name
        assert full_run["figures"][confusion_key(name)].name == f"confusion_{name}.png"
    assert parsed.section_images["confusion"] == 17


def test_results_table_lists_every_experiment_and_its_scores(parsed, full_run):
    tables = [rows for sid, rows in parsed.tables if sid == "results"]
    assert len(tables) == 1
    header, *rows = tables[0]
    assert header[:7] == ["experiment", "part", "method", "option", "scored on", "mIoU", "OA"]
    for column in ("train pixels", "labels read", "clusters", "noise", "purity", "mapping"):
        assert column in header
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(by_name) == list(EXPERIMENT_NAMES)
    for e in full_run["result"].experiments:
        row = by_name[e["name"]]
        assert row["mIoU"] == f"{e['miou']:.3f}"
        assert row["train pixels"] == f"{e['n_train_pixels']:,}"
        assert row["mapping"] == (e["mapping"] or "—")
        assert row["scored on"] == "test (held-out)"
        assert row["labels read"] == f"{e['n_labels_used']:,}"
        if e["method"] == "hdbscan":
            assert row["clusters"] == f"{e['n_clusters']:,}"


def test_oracle_note_names_each_hdbscan_experiment(parsed, full_run):
    assert oracle_experiments(full_run["result"].to_dict()) == HDBSCAN_NAMES
    notes = [codes for codes in parsed.notes if set(HDBSCAN_NAMES) <= set(codes)]
    assert len(notes) == 1
    assert not [c for c in notes[0] if c.startswith(("knn", "naive"))]
    text = parsed.text("question")
    assert "majority true class" in text and "optimistic" in text


def test_dataset_section_shows_summary_and_class_distribution(parsed, full_run):
    ds, result = full_run["ds"], full_run["result"]
    text = parsed.text("dataset")
    assert result.run["dataset"]["score"]["digest"][:16] in text
    assert "held-out" in text
    for domain in split_summary(ds)["domains"]:
        assert domain in text
    counts = class_distribution(ds)
    np.testing.assert_array_equal(class_counts(result.to_dict()), counts)
    class_table = [rows for sid, rows in parsed.tables if sid == "dataset"][1]
    assert class_table[-1][2] == f"{int(counts.sum()):,}"
    assert [r[2] for r in class_table[1:14]] == [f"{int(c):,}" for c in counts]


def test_references_and_metadata(parsed, full_run):
    refs = parsed.text("references")
    assert "0.547" in refs and "0.576" in refs and "test set" in refs
    meta = [rows for sid, rows in parsed.tables if sid == "metadata"]
    pairs = {k: v for rows in meta for k, v in rows}
    run = full_run["result"].run
    assert pairs["seed"] == "0"
    assert pairs["scoring data digest"] == run["dataset"]["score"]["digest"]
    assert pairs["protocol"] == "held-out"
    assert pairs["numpy"] == run["versions"]["numpy"]
    assert pairs["min_cluster_size"] == "10"
    assert float(pairs["total (s)"]) == pytest.approx(run["seconds"]["total"], abs=0.06)
    assert pairs["flair-hdbscan-code"] == run["versions"]["flair-hdbscan-code"]


def test_prediction_maps_cover_every_experiment_and_hdbscan_adds_clusters(parsed, full_run):
    result, figures = full_run["result"], full_run["figures"]
    (patch_id,) = result.maps
    sizes = {}
    for name in EXPERIMENT_NAMES:
        path = figures[map_key(name, patch_id)]
        assert path.name == f"map_{name}_{patch_id}.png"
        sizes[name] = png_size(path.read_bytes())
    # four panels (with the cluster map) against three
    assert sizes["hdbscan"][0] > 1.2 * sizes["knn"][0]
    assert parsed.section_images["maps"] == 17
    for key in ("nomenclature", "class-distribution", "samples", "results"):
        assert figures[key].is_file()


# -- what the page says, from plain data -----------------------------------------------------


def test_experiment_rows_recompute_the_miou(full_run):
    for row in experiment_rows(full_run["result"].to_dict()):
        assert row["miou"] == pytest.approx(row["miou_check"])


def test_headline_picks_the_best_of_each_method():
    results = {
        "experiments": [
            {"name": "naive-uniform", "method": "naive-uniform", "miou": 0.04},
            {"name": "knn", "method": "knn", "miou": 0.5},
            {"name": "knn-robust", "method": "knn", "miou": 0.6},
            {"name": "hdbscan", "method": "hdbscan", "miou": None},
            {"name": "hdbscan-robust", "method": "hdbscan", "miou": 0.3},
        ]
    }
    for e in results["experiments"]:
        e["confusion_matrix"] = np.eye(13, dtype=int).tolist()
        e["iou"] = [None] * 13
    best = headline(results)
    assert best == {
        "knn": ("knn-robust", 0.6),
        "hdbscan": ("hdbscan-robust", 0.3),
        "naive": ("naive-uniform", 0.04),
    }


def test_text_is_escaped_missing_figures_are_named_and_sample_data_is_said(full_run):
    result = full_run["result"]
    run = dict(result.run, dataset=dict(result.run["dataset"], root="/data/<b>&flair"))
    changed = dataclasses.replace(result, run=run)
    page = render_report(changed, split_summary(full_run["ds"]), {}, generated="seed 0")
    assert "<b>&flair" not in page and "/data/&lt;b&gt;&amp;flair" in page
    # figures missing from the dictionary are reported, not silently dropped
    assert "<img" not in page and "Figure missing" in page
    first = parse(page).text("")  # the page's text before its first section
    assert "Sample data, not FLAIR #2" in " ".join(page.split("<nav>")[0].split())
    assert first is not None


# -- the command -----------------------------------------------------------------------------


def test_run_command_writes_results_figures_and_report_that_agree(sample_root, tmp_path):
    from flair_hdbscan.cli.main import cli

    out = tmp_path / "run"
    outcome = CliRunner().invoke(
        cli,
        [
            "run",
            "--data",
            str(sample_root),
            "--experiments",
            "knn,hdbscan",
            # the budget study's own tests cover it; here it only has to be in the run
            "--budgets",
            "13,all",
            "--budget-seeds",
            "1",
            "--map-patches",
            "1",
            "--out",
            str(out),
            "--workers",
            "1",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = [e["name"] for e in results["experiments"]]
    assert names == ["knn", "hdbscan"]
    table = pd.read_csv(out / "results.csv")
    for e in results["experiments"]:
        cm = np.asarray(e["confusion_matrix"])
        assert e["miou"] == pytest.approx(mean_iou(cm))
        csv_cm = pd.read_csv(out / "confusion" / f"{e['name']}.csv", index_col=0).to_numpy()
        np.testing.assert_array_equal(csv_cm, cm)
        row = table.set_index("name").loc[e["name"]]
        assert row["miou"] == pytest.approx(e["miou"], abs=1e-6)
        assert (out / "figures" / f"confusion_{e['name']}.png").is_file()
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    assert parsed_ids(page) >= {"exp-knn", "exp-hdbscan"}
    assert page.section_images["confusion"] == 2
    assert page.notes and page.notes[0] == ["hdbscan"]
    for img in page.images:
        assert (img["src"] or "").startswith(PNG_PREFIX)
    shown = {rows[0] for sid, table_rows in page.tables if sid == "results" for rows in table_rows}
    assert {"knn", "hdbscan"} <= shown


def parsed_ids(page: Page) -> set[str]:
    return {a["id"] for _, a in page.tags if a.get("id")}
