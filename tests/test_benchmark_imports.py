"""Every benchmark imports names the package still has (benchmarks are not run by the tests)."""

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("*.py"))


def _package_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from flair_hdbscan… import name``, nested ones too."""
    tree = ast.parse(path.read_text())
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flair_hdbscan")
        for alias in node.names
    ]


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports_resolve(path):
    imports = _package_imports(path)
    assert imports, f"{path.name} imports nothing from the package"
    for module, name in imports:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name} ({path.name})"
