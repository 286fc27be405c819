import os
import stat

import pytest

from flair_hdbscan.atomic import atomic_dir, atomic_path, write_json


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_complete_write_replaces_with_ordinary_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "sub" / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.read_text().strip().startswith("{")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "tree"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(KeyError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise KeyError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]
