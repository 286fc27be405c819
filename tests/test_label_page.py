"""The labelling page in a real browser (Debian's Chromium driven by Playwright).

Names 20 clusters by keyboard, undoes one, reloads (the session resumes), renames a cluster
from the list view, and checks ``mapping.json``; a request without the token gets 403 and the
server listens on 127.0.0.1 only.
"""

import json
import socket
import urllib.error
import urllib.request

import pytest

from flair_hdbscan.label.service import KEYS
from flair_hdbscan.nomenclature import REDUCED_NAMES
from label_helpers import CHROMIUM, CHROMIUM_ARGS, served

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_progress(page, text: str) -> None:
    """Wait until the progress line says ``text`` (the server answered)."""
    page.wait_for_function(
        "t => document.getElementById('progress-text').textContent.includes(t)", arg=text
    )


def test_label_page_in_a_browser(train_ds, tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "label"
    with served(train_ds, out) as (server, service):
        # the server listens on 127.0.0.1 only, and refuses requests without the token
        host, port = server.address
        assert host == "127.0.0.1" and server.url.startswith(f"http://127.0.0.1:{port}/?token=")
        assert server.socket.family == socket.AF_INET
        assert _status(f"{server.base}/") == 403
        assert _status(f"{server.base}/api/state?token=wrong") == 403
        assert _status(f"{server.base}/crop/0?mode=rgb") == 403
        assert _status(f"{server.base}/api/state", {"X-Label-Token": server.token}) == 200
        n_clusters = len(service.priority)
        assert n_clusters > 30

        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
            )
            ctx.set_default_timeout(60_000)
            page = ctx.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            _wait_progress(page, "shown 0 of")
            assert page.locator("#crop-rgb").get_attribute("src").startswith("crop/")
            # name 20 clusters by keyboard, each the next exemplar
            for i in range(20):
                page.keyboard.press(KEYS[i % len(KEYS)])
                _wait_progress(page, f"shown {i + 1} of")
            assert "labels spent 20" in page.inner_text("#progress-text")
            page.keyboard.press("u")  # undo the 20th
            _wait_progress(page, "shown 19 of")
            page.reload()  # resume from the server's state
            _wait_progress(page, "shown 19 of")
            assert "labels spent 19" in page.inner_text("#progress-text")
            assert "exemplar" in page.inner_text("#cluster-title")
            # the list view: rename a cluster that has no answer yet
            page.keyboard.press("l")
            page.wait_for_selector("#clusters tbody tr")
            rows = page.locator("#clusters tbody tr")
            assert rows.count() == n_clusters
            target = service.priority[30]
            row = page.locator(f"#clusters tbody tr[data-cluster='{target}']")
            with page.expect_response(lambda r: "api/rename" in r.url and r.ok):
                row.locator("select.rename").select_option("4")  # water
            _wait_progress(page, "labels spent 20")
            assert "rename" in row.inner_text()
            assert errors == []
            ctx.close()

    doc = json.loads((out / "mapping.json").read_text())
    answers = [e for e in doc["answers"] if e["kind"] == "answer"]
    renames = [e for e in doc["answers"] if e["kind"] == "rename"]
    assert [e["position"] for e in answers] == list(range(19))
    assert [e["answer"] for e in answers] == [i % len(KEYS) for i in range(19)]
    assert renames == [{**renames[0], "cluster": target, "answer": 4}]
    assert doc["labels_spent"] == 20
    assert doc["mapping"][str(target)] == {"class": 4, "name": REDUCED_NAMES[4], "source": "rename"}
    # each of the 19 answered clusters is named by its one answer (the exemplar of the k-th largest)
    for k, e in enumerate(answers):
        assert e["cluster"] == service.priority[k]
        assert doc["mapping"][str(e["cluster"])]["class"] == k % len(KEYS)
    assert len(doc["cluster_classes"]) == doc["clustering"]["n_clusters"]
    assert all(0 <= k < len(REDUCED_NAMES) for k in doc["cluster_classes"])
    assert doc["provenance"]["request"]["data"]["digest"]
