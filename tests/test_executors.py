"""Executors run a task over items with shared data, in this process or on Dask workers."""

from __future__ import annotations

import pytest

from flair_hdbscan.errors import DataError
from flair_hdbscan.executors import make_executor


def _task(shared: tuple[int, str], i: int) -> tuple[int, str]:
    offset, name = shared
    if i == 3:
        raise DataError(f"patch {i} is unreadable")
    return offset + i, name


@pytest.mark.parametrize("workers", [1, 2])
def test_tuple_shared_data_reaches_every_task_and_failures_are_reported_per_item(workers):
    # `run` shares (dataset, stride, options): a tuple must arrive as one object, not be
    # scattered element by element
    results: dict[int, object] = {}
    errors: dict[int, str] = {}

    def on_result(i, result, error):
        if error is None:
            results[i] = result
        else:
            errors[i] = error

    with make_executor(None, workers) as executor:
        executor.run(_task, (100, "tree"), range(5), on_result)
    assert results == {i: (100 + i, "tree") for i in (0, 1, 2, 4)}
    assert list(errors) == [3] and "patch 3 is unreadable" in errors[3]
