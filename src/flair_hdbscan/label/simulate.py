"""A simulated annotator: answers the page from the ground truth, through its HTTP API.

For evaluation only: it reads the truth of each pixel the page shows (the budget study's
:class:`~flair_hdbscan.budget.annotator.Annotator`, which counts what it reveals) and
answers it as a person would press a key — a class, or ``"mixed"`` where the mask has no
data (the budget study's ``NO_DATA``: a label spent, no class). Driving the same API as the
page makes the page's mapping comparable, label for label, with the budget study's.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from flair_hdbscan.budget.annotator import NO_DATA, Annotator
from flair_hdbscan.errors import FaultError
from flair_hdbscan.label.app import TOKEN_HEADER
from flair_hdbscan.label.session import MIXED

__all__ = ["ApiClient", "simulate_annotator"]


class ApiClient:
    """A minimal client of the page's JSON API (standard library only).

    Args:
        base: ``http://127.0.0.1:PORT``.
        token: the session's token.
        timeout: seconds per request.
    """

    def __init__(self, base: str, token: str, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send a request; return the decoded JSON answer.

        Raises:
            FaultError: on a refused request (the server's one-line error) or no answer.
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={TOKEN_HEADER: self.token, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise FaultError(
                f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}"
            ) from None
        except OSError as exc:
            raise FaultError(f"{method} {path}: {exc}") from None

    def state(self) -> dict[str, Any]:
        """``GET /api/state``."""
        return self.request("GET", "/api/state")

    def answer(self, position: int, answer: int | str) -> dict[str, Any]:
        """``POST /api/answer``."""
        return self.request("POST", "/api/answer", {"position": position, "answer": answer})

    def undo(self) -> dict[str, Any]:
        """``POST /api/undo``."""
        return self.request("POST", "/api/undo", {})

    def rename(self, cluster: int, answer: int | str | None) -> dict[str, Any]:
        """``POST /api/rename``."""
        return self.request("POST", "/api/rename", {"cluster": cluster, "answer": answer})


def simulate_annotator(client: ApiClient, truth: np.ndarray, n_answers: int) -> Annotator:
    """Answer the next ``n_answers`` pixels the page shows from the truth.

    Args:
        client: the page's API.
        truth: ``(n_pool,)`` reduced labels of the pool, 0..12 or 255 (no data), in pool
            order (:func:`flair_hdbscan.passes.read_training_sample`'s ``labels``).
        n_answers: answers to give (fewer if the order ends first).

    Returns:
        The annotator, whose ``labels_used`` counts the pixels it revealed.
    """
    annotator = Annotator(np.asarray(truth))
    state = client.state()
    for _ in range(int(n_answers)):
        item = state["item"]
        if item is None:
            break
        value = int(annotator.label(np.array([item["row"]]))[0])
        state = client.answer(item["position"], MIXED if value == NO_DATA else value)
    return annotator
