"""Time the project's HDBSCAN (``cluster_pixels``, backend ``flair``) against the libraries.

On pixel rows of the project's generated imagery (raw aerial features, value / 255), side
by side: rows, distinct rows, wall and CPU seconds of ``cluster_pixels`` (default
``ties="simultaneous"``, and ``"sequential"``) and of plain
``fast_hdbscan.HDBSCAN(min_cluster_size=10).fit(X)`` (and of exact
``hdbscan.HDBSCAN(min_cluster_size=10, approx_min_span_tree=False)`` where it finishes
within ``--exact-timeout``), the speed ratios, clusters, noise share, and adjusted Rand
indices between them. Quantised pixels tie many distances, so the exact reference is
also run on shuffled rows: its agreement with itself is the yardstick for the others.

Every clustering runs in a fresh subprocess (after a small warm-up fit that compiles or
loads numba code), so a crash is reported, not fatal, and CPU seconds are those of that
process alone (all threads). ``--deep N`` also clusters a chain of N nested clusters
(12 N rows): plain fast_hdbscan recurses once per level in its cluster selection and
overflows the 8 MiB stack (SIGSEGV at N = 200,000); ``cluster_pixels`` runs it in a
big-stack thread (``fast_hdbscan-big-stack``), and the flair code is iterative.

N rows are the first N training-sample rows at the sparsest stride that yields N rows from
the generated patches (1 M and 3 M rows: every pixel, stride 1).

Usage: python benchmarks/hdbscan_speed.py [--sizes 100000 1000000 3000000]
       [--patches 12] [--seed 6] [--data DIR] [--exact-timeout 1800] [--exact-max 1000000]
       [--compile] [--keep DIR] [--deep N_CLUSTERS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PLAIN_STACK_NOTE = "plain = fit in the main thread, default stack"


def worker(method: str, src: Path, out: Path, shuffle: int | None, jitter: bool) -> None:
    """Cluster the rows in ``src`` with one method; write labels to ``out``, JSON to stdout."""
    X = np.load(src)
    if jitter:  # far below one grey level (1/255): breaks every distance tie
        noise = np.random.default_rng(0).uniform(-1e-5, 1e-5, X.shape)
        X = (X + noise).astype(np.float32)
    perm = None
    if shuffle is not None:
        perm = np.random.default_rng(shuffle).permutation(X.shape[0])
        X = np.ascontiguousarray(X[perm])
    warm = np.random.default_rng(0).normal(size=(2000, X.shape[1])).astype(np.float32)
    if method.startswith("flair"):
        from flair_hdbscan.clustering import cluster_pixels

        ties = "sequential" if method == "flair-sequential" else "simultaneous"
        cluster_pixels(warm, ties=ties)

        def fit():
            return cluster_pixels(X, ties=ties).labels

    elif method == "fast_hdbscan-big-stack":
        from flair_hdbscan.clustering import cluster_pixels

        cluster_pixels(warm, backend="fast_hdbscan")

        def fit():
            return cluster_pixels(X, backend="fast_hdbscan").labels

    elif method == "fast_hdbscan":
        import fast_hdbscan

        fast_hdbscan.HDBSCAN(min_cluster_size=10).fit(warm)

        def fit():
            return fast_hdbscan.HDBSCAN(min_cluster_size=10).fit(X).labels_

    else:
        import hdbscan

        def fit():
            # one process: joblib's worker processes would hide their CPU time
            model = hdbscan.HDBSCAN(
                min_cluster_size=10, approx_min_span_tree=False, core_dist_n_jobs=1
            )
            return model.fit(X.astype(np.float64)).labels_

    t0, c0 = time.perf_counter(), time.process_time()
    labels = np.asarray(fit(), dtype=np.int64)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if perm is not None:
        back = np.empty_like(labels)
        back[perm] = labels
        labels = back
    np.save(out, labels)
    print(json.dumps({"wall": wall, "cpu": cpu}))


def run_worker(method, src, out, shuffle=None, timeout=None, jitter=False):
    """Run :func:`worker` in a subprocess: (dict with wall/cpu/labels) or (str: why not)."""
    cmd = [sys.executable, __file__, "--worker", method, "--input", str(src), "--output", str(out)]
    if shuffle is not None:
        cmd += ["--shuffle", str(shuffle)]
    if jitter:
        cmd += ["--jitter"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s (stopped)"
    if proc.returncode != 0:
        if proc.returncode < 0:
            return f"crashed ({signal.Signals(-proc.returncode).name})"
        return f"failed: {proc.stderr.strip().splitlines()[-1:]}"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["labels"] = np.load(out)
    return res


def pixel_rows(ds, n: int) -> np.ndarray:
    """The first ``n`` rows of the sparsest-stride training sample holding ``n`` rows."""
    from flair_hdbscan.executors import LocalExecutor
    from flair_hdbscan.features import FeatureSpec, feature_table
    from flair_hdbscan.passes import read_training_sample

    for stride in range(16, 0, -1):
        sample = read_training_sample(ds, stride=stride, sentinel=None, executor=LocalExecutor())
        if len(sample) >= n:
            X = feature_table(sample.aerial[:n], None, FeatureSpec())
            return np.ascontiguousarray(X, dtype=np.float32)
    raise SystemExit(f"the data hold fewer than {n} pixel rows: raise --patches")


def deep_chain(n_blocks: int, size: int = 12) -> np.ndarray:
    """``(n_blocks * size, 2) float32`` rows whose cluster tree is ``n_blocks`` deep.

    Block ``b`` (``size`` points spread over 1e-3 of the smallest gap) sits at a gap of
    ``1 / (b + 1)`` from block ``b + 1``: the rest of the chain is always denser than the
    gap that separates the next block, so every split peels one block off.
    """
    gaps = 1.0 / np.arange(1, n_blocks + 1)
    starts = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    spread = np.random.default_rng(0).uniform(0, 1e-3, (n_blocks, size)) * gaps[-1]
    x = (starts[:, None] + spread).reshape(-1)
    return np.ascontiguousarray(np.column_stack([x, np.zeros_like(x)]), dtype=np.float32)


def compile_times() -> None:
    """First- and second-process time of a small clustering, with an empty numba cache."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import numpy as np\n"
        "from flair_hdbscan.clustering import cluster_pixels\n"
        "X = np.random.default_rng(0).normal(size=(2000, 5)).astype(np.float32)\n"
        "t1 = time.perf_counter(); cluster_pixels(X); t2 = time.perf_counter()\n"
        "print(f'{t2 - t1:.2f} {t2 - t0:.2f}')\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for name in ("first process (empty cache)", "second process (cached)"):
            proc = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True
            )
            call, total = proc.stdout.split()
            notice = "compiling clustering code" in proc.stderr
            print(
                f"  {name:28s} cluster_pixels {call:>6s} s, whole process {total:>6s} s, "
                f"notice shown: {notice}   (load {os.getloadavg()[0]:.2f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--patches", type=int, default=12)
    parser.add_argument("--seed", type=int, default=6, help="generator seed")
    parser.add_argument("--data", type=Path, default=None, help="an existing FLAIR tree")
    parser.add_argument("--exact-timeout", type=float, default=1800.0)
    parser.add_argument("--exact-max", type=int, default=1_000_000, help="largest N for hdbscan")
    parser.add_argument("--compile", action="store_true", help="also time the first compile")
    parser.add_argument("--keep", type=Path, default=None, help="save every labelling here")
    parser.add_argument(
        "--deep", type=int, default=0, help="also cluster a chain this many clusters deep"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--shuffle", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--jitter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.input, args.output, args.shuffle, args.jitter)
        return

    from sklearn.metrics import adjusted_rand_score as ari

    from flair_hdbscan.dataset import FlairDataset
    from flair_hdbscan.sample_data import generate_sample

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average at start {os.getloadavg()[0]:.2f}"
    )
    if args.compile:
        print("compile (numba cache=True), a 2,000-row clustering in a fresh process:")
        compile_times()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = args.data or generate_sample(tmp / "data", n_patches=args.patches, seed=args.seed)
        ds = FlairDataset.from_root(root, split="train")
        for n in args.sizes:
            X = pixel_rows(ds, n)
            src = tmp / f"X{n}.npy"
            np.save(src, X)
            distinct = np.unique(X, axis=0).shape[0]
            print(f"\n{n:,} pixel rows, {distinct:,} distinct ({100 * distinct / n:.1f} %)")
            runs = {}
            plan = [
                ("flair", None, None),
                ("flair", 1, None),
                ("flair-sequential", None, None),
                ("fast_hdbscan", None, None),
            ]
            if n <= args.exact_max:
                plan += [("hdbscan", None, args.exact_timeout), ("hdbscan", 1, args.exact_timeout)]
            for method, shuffle, timeout in plan:
                name = method + (" (shuffled rows)" if shuffle is not None else "")
                load = os.getloadavg()[0]
                runs[name] = run_worker(method, src, tmp / "labels.npy", shuffle, timeout)
                runs[name + " load"] = (load, os.getloadavg()[0])
            if n == min(args.sizes) and n <= args.exact_max:
                # without data ties (only mutual-reachability ties remain) a jitter far
                # below one grey level (1e-5 vs 1/255) shows how far apart the conventions are
                jit = {}
                for name, method, shuffle in (
                    ("flair", "flair", None),
                    ("flair-sequential", "flair-sequential", None),
                    ("hdbscan", "hdbscan", None),
                    ("hdbscan (shuffled)", "hdbscan", 1),
                ):
                    res = run_worker(
                        method, src, tmp / "labels.npy", shuffle, args.exact_timeout, True
                    )
                    if isinstance(res, dict):
                        jit[name] = res["labels"]
                print("  rows + 1e-5 jitter, ARI between labels (clusters):")
                for a_name, a_lab in jit.items():
                    cells = " ".join(f"{ari(a_lab, b_lab):.4f}" for b_lab in jit.values())
                    print(f"    {a_name:20s} {cells}   ({a_lab.max() + 1})")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(
                    args.keep / f"labels_{n}.npz",
                    **{k: v["labels"] for k, v in runs.items() if isinstance(v, dict)},
                )
            ours = runs["flair"]
            exact = runs.get("hdbscan")
            has_exact = isinstance(exact, dict)
            print(
                f"  {'method':28s} {'wall s':>8s} {'CPU s':>8s} {'wall ×':>7s} {'CPU ×':>7s} "
                f"{'clusters':>9s} {'noise %':>8s} {'ARI flair':>10s} {'ARI exact':>10s}  load"
            )
            for name, res in runs.items():
                if name.endswith(" load"):
                    continue
                load = "{:.1f}→{:.1f}".format(*runs[name + " load"])
                if not isinstance(res, dict):
                    print(f"  {name:28s} {res:>60s}  {load}")
                    continue
                lab = res["labels"]
                ratio_w = res["wall"] / ours["wall"]
                ratio_c = res["cpu"] / ours["cpu"]
                a_ours = ari(ours["labels"], lab)
                a_exact = f"{ari(exact['labels'], lab):10.4f}" if has_exact else f"{'—':>10s}"
                print(
                    f"  {name:28s} {res['wall']:8.2f} {res['cpu']:8.2f} {ratio_w:7.1f} "
                    f"{ratio_c:7.1f} {lab.max() + 1:9d} {100 * np.mean(lab < 0):8.1f} "
                    f"{a_ours:10.4f} {a_exact}  {load}"
                )
            print(f"  (× = time / flair time; {PLAIN_STACK_NOTE})")
        if args.deep:
            X = deep_chain(args.deep)
            src = tmp / "deep.npy"
            np.save(src, X)
            print(f"\na chain of {args.deep:,} nested clusters, {X.shape[0]:,} rows:")
            for method in ("flair", "fast_hdbscan", "fast_hdbscan-big-stack"):
                res = run_worker(method, src, tmp / "labels.npy")
                if isinstance(res, dict):
                    res = (
                        f"{res['wall']:8.2f} s wall {res['cpu']:8.2f} s CPU, "
                        f"{res['labels'].max() + 1:,} clusters"
                    )
                print(f"  {method:24s} {res}   (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
