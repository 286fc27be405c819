"""Helpers of the labelling page's tests: a served session on a generated sample."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flair_hdbscan.label.app import make_app, new_token
from flair_hdbscan.label.clusterer import parse_clusterer
from flair_hdbscan.label.prepare import open_label_folder
from flair_hdbscan.label.server import LabelServer
from flair_hdbscan.label.service import LabelService

CHROMIUM = Path("/usr/bin/chromium")
#: Flags that keep Chromium off the (closed) network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def served(ds: Any, out: Path, experiment: str = "hdbscan-leaf", **kwargs: Any) -> Iterator[Any]:
    """Open (or resume) a label folder and serve it on 127.0.0.1 in a background thread.

    Yields:
        ``(server, service)``.
    """
    budget = kwargs.pop("budget", None)
    clusterer = parse_clusterer(experiment, budget=budget, seed=kwargs.pop("seed", 0))
    with open_label_folder(out, ds, clusterer, **kwargs) as (data, session):
        service = LabelService(ds, data, session)
        token = new_token()
        try:
            with LabelServer(make_app(service, token), token) as server:
                yield server, service
        finally:
            service.close()
