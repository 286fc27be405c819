"""Time every action of the labelling page, compare it with the budget study, screenshot it.

On the embedded sample (``generate_sample(dir, n_patches=16, seed=1)``, the training split's
1 % sample: 43,264 pixels) the page is served on 127.0.0.1 and every action is timed over
real HTTP (median, 90th percentile and maximum of ``--repeat`` requests): the next cluster
(``GET /api/state``), a crop PNG (first time: the patch is read and the crop drawn; then
cached), an answer (saved atomically to mapping.json), undo, and the list view (the page and
``GET /api/clusters``). Then a simulated annotator answers ``--answers`` pixels from the
truth, ``predict --mapping``'s path writes the test split's maps, ``evaluate``'s scores them,
and the budget study's cluster-then-label row at the same budget and seed index 0 is printed
beside. With ``--screenshot PNG`` a headless Chromium (Debian's /usr/bin/chromium) takes a
picture of the page.

Usage:
    python benchmarks/label_page.py [--experiment hdbscan-leaf] [--answers 50]
        [--repeat 30] [--screenshot docs/label_page.png] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from flair_hdbscan.budget.pipeline import feature_spec, read_scoring_table
from flair_hdbscan.budget.runner import run_budget_study
from flair_hdbscan.dataset import FlairDataset
from flair_hdbscan.evaluation import evaluate_folders
from flair_hdbscan.executors import LocalExecutor
from flair_hdbscan.features import feature_table
from flair_hdbscan.label.app import make_app, new_token
from flair_hdbscan.label.clusterer import parse_clusterer
from flair_hdbscan.label.predictor import load_mapping_model
from flair_hdbscan.label.prepare import open_label_folder
from flair_hdbscan.label.server import LabelServer
from flair_hdbscan.label.service import KEYS, LabelService
from flair_hdbscan.label.simulate import ApiClient, simulate_annotator
from flair_hdbscan.metrics import mean_iou
from flair_hdbscan.passes import read_training_sample
from flair_hdbscan.predict import predict_folder
from flair_hdbscan.sample_data import generate_sample

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ms(samples: list[float]) -> str:
    """Median, 90th percentile and maximum, in milliseconds."""
    s = sorted(samples)
    p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
    med = 1e3 * statistics.median(s)
    return f"median {med:6.1f} ms   p90 {1e3 * p90:6.1f}   max {1e3 * s[-1]:6.1f}"


def timed(fn) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def get(url: str) -> bytes:
    """The body of a GET."""
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read()


def latency(server, service, repeat: int) -> None:
    """Time each action over HTTP."""
    client = ApiClient(server.base, server.token)
    tok = server.token
    rows = [int(r) for r in service.data.clusters.order[: repeat * 2]]
    results = {
        "next cluster (GET /api/state)": [timed(client.state) for _ in range(repeat)],
        "crop PNG, first (patch read + drawn)": [
            timed(lambda r=r: get(f"{server.base}/crop/{r}?mode=rgb&size=96&out=384&token={tok}"))
            for r in rows[:repeat]
        ],
        "crop PNG, cached": [
            timed(lambda r=r: get(f"{server.base}/crop/{r}?mode=rgb&size=96&out=384&token={tok}"))
            for r in rows[:repeat]
        ],
    }
    answers, undos, after = [], [], []
    for i in range(repeat):
        pos = client.state()["item"]["position"]
        answers.append(timed(lambda pos=pos, i=i: client.answer(pos, i % 13)))
        row = client.state()["item"]["row"]  # what the page asks next: the new pixel's crops
        after.append(
            timed(lambda r=row: get(f"{server.base}/crop/{r}?mode=nir&size=96&out=384&token={tok}"))
        )
        time.sleep(0.3)  # a person's pace: the background draws the next pixels' crops
    for _ in range(repeat):
        undos.append(timed(client.undo))
    results["answer (POST /api/answer, saved)"] = answers
    results["undo (POST /api/undo, saved)"] = undos
    results["crop PNG of the next pixel after an answer"] = after
    results["list view page (GET /clusters)"] = [
        timed(lambda: get(f"{server.base}/clusters?token={tok}")) for _ in range(repeat)
    ]
    results[f"list view data (GET /api/clusters, {len(service.priority)} clusters)"] = [
        timed(lambda: client.request("GET", "/api/clusters")) for _ in range(repeat)
    ]
    for name, samples in results.items():
        print(f"  {name:<48} {ms(samples)}")


def screenshot(server, path: Path, n: int) -> None:
    """Answer ``n`` exemplars by keyboard in Chromium, then take a picture of the page."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            args=ARGS,
            headless=True,
            viewport={"width": 1360, "height": 980},
        )
        page = ctx.new_page()
        page.goto(server.url)
        page.wait_for_selector("#cluster-title:has-text('Cluster')")
        start = ApiClient(server.base, server.token).state()["progress"]["position"]
        for i in range(n):
            page.keyboard.press(KEYS[[6, 9, 2, 0, 10, 1][i % 6]])
            page.wait_for_function(
                "t => document.getElementById('progress-text').textContent.includes(t)",
                arg=f"shown {start + i + 1} of",
            )
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        ctx.close()
    print(f"screenshot: {path}")


def main() -> None:
    """Run the measurements."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--experiment", default="hdbscan-leaf")
    ap.add_argument("--answers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--screenshot", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "label-bench")
    args = ap.parse_args()
    root = args.data / "sample"
    if not root.exists():
        generate_sample(root, n_patches=16, seed=1)
    train = FlairDataset.from_root(root, "train")
    test = FlairDataset.from_root(root, "test")
    print(f"load: {os.getloadavg()}  cores: {os.cpu_count()}")
    clusterer = parse_clusterer(
        args.experiment, budget=None if "kmeans" in args.experiment else args.answers
    )
    work = args.data / "work"
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    with open_label_folder(work / "label", train, clusterer) as (data, session):
        info = data.clustering
        seconds = time.perf_counter() - start
        print(
            f"{clusterer.name}: {info['n_clusters']} clusters of {info['n_pool']:,} pixels "
            f"in {seconds:.1f} s"
        )
        service = LabelService(train, data, session)
        token = new_token()
        with LabelServer(make_app(service, token), token) as server:
            latency(server, service, args.repeat)
        assert session.position == 0
    # the page against the budget study, label for label
    truth = read_training_sample(train, stride=10, sentinel=None, executor=LocalExecutor())
    with open_label_folder(work / "label", train, clusterer) as (data, session):
        service = LabelService(train, data, session)
        token = new_token()
        with LabelServer(make_app(service, token), token) as server:
            simulate_annotator(ApiClient(server.base, token), truth.labels, args.answers)
            if args.screenshot is not None:
                screenshot(server, args.screenshot, 12)
                for _ in range(12):
                    ApiClient(server.base, token).undo()
    model = load_mapping_model(work / "label" / "mapping.json")
    predict_folder(test, model, work / "pred")
    page = mean_iou(evaluate_folders(test.paths.labels, work / "pred"))
    X = feature_table(truth.aerial, None, feature_spec("raw"))
    table = read_scoring_table(test, feature_spec("raw"), None, executor=LocalExecutor())
    method = "kmeans" if clusterer.kind == "kmeans" else "hdbscan"
    kw = {} if clusterer.setting is None else {"hdbscan_settings": [clusterer.setting]}
    result = run_budget_study(
        X, truth.labels, table, budgets=[args.answers], n_seeds=1, methods=(method,), **kw
    )
    row = result.rows[0]
    print(
        f"page ({args.answers} simulated answers, {model.record.n_labels_used} labels): "
        f"mIoU {page:.6f}"
    )
    diff = page - row.miou
    print(
        f"budget study ({row.method} {row.setting}, budget {row.budget}, seed 0, "
        f"{row.labels_used} labels): mIoU {row.miou:.6f}; difference {diff:.2e}"
    )
    print(f"load: {os.getloadavg()}")
    assert np.isfinite(page)


if __name__ == "__main__":
    main()
