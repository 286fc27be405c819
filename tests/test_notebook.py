"""The study notebook: committed clean, and every cell runs on a fresh kernel."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "flair_hdbscan.ipynb"
KERNEL = "python3"


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    return nb


def test_notebook_is_committed_without_outputs(notebook):
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], cell.source[:80]
        assert cell.execution_count is None, cell.source[:80]


def test_notebook_tells_every_part_of_the_study(notebook):
    headings = [
        line
        for c in notebook.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## Part")
    ]
    parts = [int(re.match(r"## Part (\d+)", h).group(1)) for h in headings]
    assert parts == list(range(1, 14))
    text = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "oracle" in text and "majority true class" in text


def test_notebook_runs_without_error(notebook, tmp_path):
    from jupyter_client.kernelspec import find_kernel_specs
    from nbclient import NotebookClient

    if KERNEL not in find_kernel_specs():
        pytest.fail(
            f"no Jupyter kernel {KERNEL!r}: run `python -m ipykernel install --sys-prefix` "
            "in the test environment"
        )
    nb = nbformat.from_dict(notebook)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # Part 1 draws five figures, each experiment a confusion matrix, plus the summaries
    assert len(images) >= 25
    tables = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "hdbscan-satellite-robust" in tables and "oracle" in tables
