"""``flair-hdbscan label``: name clusters, not pixels — a page that turns clusters into maps."""

from __future__ import annotations

import contextlib
import webbrowser
from pathlib import Path
from typing import Any

import click

from flair_hdbscan.budget.pipeline import feature_spec
from flair_hdbscan.cli.options import PathType, data_options, open_dataset
from flair_hdbscan.errors import OptionError
from flair_hdbscan.executors import make_executor
from flair_hdbscan.label.clusterer import CLUSTERER_HELP, parse_clusterer
from flair_hdbscan.options import FEATURE_OPTIONS, StudyOptions
from flair_hdbscan.pixels import SentinelOptions
from flair_hdbscan.progress import Progress
from flair_hdbscan.study import check_against_data


@click.command(
    epilog="Keys on the page: 1-9, 0, q, w, e name the 13 classes; s skips; m marks mixed; "
    "u or Backspace undoes; l opens the list of clusters. Every answer is saved at once "
    "to OUT/mapping.json; run the same command again to resume. Then: flair-hdbscan "
    "predict --mapping OUT/mapping.json --split test --out PRED."
)
@data_options()
@click.option(
    "--experiment",
    "experiment",
    default="hdbscan-leaf",
    show_default=True,
    help=f"Clustering: {CLUSTERER_HELP}.",
)
@click.option(
    "--features",
    type=click.Choice(FEATURE_OPTIONS),
    default="raw",
    show_default=True,
    help="Pixel features, as in the study.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Study seed: the budget study's draws for the same seed.",
)
@click.option(
    "--budget",
    default=None,
    metavar="N|all",
    help="HDBSCAN: the budget whose draw orders the members shown after every "
    "cluster's exemplar, so that N answers equal the budget study at budget N "
    "(seed index 0). The first answers, one exemplar per cluster, equal every "
    "budget. [default: all; k-means: N of kmeans-N]",
)
@click.option(
    "--out",
    type=PathType(path_type=Path, file_okay=False),
    default=Path("flair-hdbscan-label"),
    show_default=True,
    help="Label folder: mapping.json (answers, mapping) and clustering.npz.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port on 127.0.0.1 [default: a free one].",
)
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start afresh in an --out holding the answers of another clustering.",
)
@click.option(
    "--simulate",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Evaluation only: answer N pixels from the split's ground truth through "
    "the page's API (a simulated annotator), then stop.",
)
@click.option(
    "--verify-content",
    is_flag=True,
    help="Identify the data by file content, not names, sizes and times.",
)
def label(
    data: Path | None,
    config: Path | None,
    split: str,
    experiment: str,
    features: str,
    seed: int,
    budget: str | None,
    out: Path,
    port: int | None,
    no_browser: bool,
    overwrite: bool,
    simulate: int | None,
    verify_content: bool,
) -> None:
    """Cluster a split's 1 % sample WITHOUT its labels and name the clusters in a browser.

    The page shows one cluster at a time, largest first — its exemplar pixel on its aerial
    patch (true colour and NIR), a few more members, its spectrum, size and share — and
    a key names it. The clustering and the order are the label-budget study's, so N
    answers spend the same N labels as the budget study at budget N. The page listens on
    127.0.0.1 only, and every request must carry the token of the printed URL.
    """
    from flair_hdbscan.label.app import make_app, new_token
    from flair_hdbscan.label.prepare import open_label_folder
    from flair_hdbscan.label.server import LabelServer
    from flair_hdbscan.label.service import LabelService

    clusterer = parse_clusterer(experiment, budget=budget, seed=seed)
    ds = open_dataset(data, config, split)
    options = StudyOptions(seed=seed)
    check_against_data(ds, options, satellite=feature_spec(features).use_satellite)
    if simulate is not None and not ds.has_labels:
        raise OptionError(f"--simulate answers from the truth: the {split} split has no labels")
    with contextlib.ExitStack() as stack:
        with make_executor(None, 1) as executor, Progress() as progress:
            data_, session = stack.enter_context(
                open_label_folder(
                    out,
                    ds,
                    clusterer,
                    features=features,
                    stride=options.stride,
                    n_neighbors=options.n_neighbors,
                    sentinel=SentinelOptions.of(options),
                    overwrite=overwrite,
                    verify_content=verify_content,
                    executor=executor,
                    progress=progress,
                )
            )
        info = data_.clustering
        click.echo(
            f"{clusterer.name} on {info['n_pool']:,} pixels of {split}: {info['n_clusters']} "
            f"clusters, noise {100 * info['noise_fraction']:.1f} %; "
            f"{session.labels_spent} labels spent so far"
        )
        token = new_token()
        service = LabelService(ds, data_, session)
        server = LabelServer(make_app(service, token), token, port)
        stack.callback(service.close)
        if simulate is not None:
            _simulate(server, ds, data_, simulate)
        else:
            _serve(server, no_browser, data_.mapping_path)


def _serve(server: Any, no_browser: bool, mapping: Path) -> None:
    click.echo(f"labelling page: {server.url}")
    click.echo("(127.0.0.1 only; the token in the URL is required; Ctrl-C stops)")
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    click.echo(f"stopped; every answer is in {mapping}")


def _simulate(server: Any, ds: Any, data: Any, n: int) -> None:
    from flair_hdbscan.executors import LocalExecutor
    from flair_hdbscan.label.simulate import ApiClient, simulate_annotator
    from flair_hdbscan.passes import read_training_sample

    truth = read_training_sample(
        ds,
        stride=int(data.provenance["request"]["stride"]),
        sentinel=None,
        executor=LocalExecutor(),
    ).labels
    with server:
        annotator = simulate_annotator(ApiClient(server.base, server.token), truth, n)
    click.echo(
        f"simulated annotator: {annotator.labels_used} labels from the truth; "
        f"mapping in {data.mapping_path}"
    )
