"""``flair-hdbscan label`` and ``predict --mapping`` on the command line."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from flair_hdbscan.cli.main import cli

pytestmark = pytest.mark.slow


def test_label_simulate_then_predict_and_evaluate(sample_root, tmp_path):
    runner = CliRunner()
    out = tmp_path / "label"
    args = ["label", "--data", str(sample_root), "--experiment", "kmeans-10", "--out", str(out)]
    result = runner.invoke(cli, [*args, "--simulate", "10", "--no-browser"])
    assert result.exit_code == 0, result.output
    assert "10 labels from the truth" in result.output
    doc = json.loads((out / "mapping.json").read_text())
    assert doc["labels_spent"] == 10 and len(doc["answers"]) == 10
    assert {e["kind"] for e in doc["answers"]} == {"answer"}

    pred = tmp_path / "pred"
    result = runner.invoke(
        cli,
        [
            "predict",
            "--mapping",
            str(out / "mapping.json"),
            "--data",
            str(sample_root),
            "--split",
            "test",
            "--out",
            str(pred),
            "--clusters",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "10 labels spent" in result.output
    assert len(list(pred.rglob("PRED_*.tif"))) == len(list(pred.rglob("CLUSTER_*.tif"))) == 2
    scores = tmp_path / "scores.json"
    result = runner.invoke(
        cli,
        [
            "evaluate",
            "--truth",
            str(sample_root / "flair_2_labels_test"),
            "--pred",
            str(pred),
            "--json",
            str(scores),
        ],
    )
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(scores.read_text())["miou"] <= 1.0

    # a different clustering in the same folder: one line, exit 2
    result = runner.invoke(
        cli, [*args[:-4], "--experiment", "kmeans-11", "--out", str(out), "--simulate", "1"]
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--overwrite" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["label", "--experiment", "dbscan"], "unknown --experiment"),
        (["label", "--experiment", "kmeans-5", "--budget", "9"], "budget is k = 5"),
        (["predict", "--mapping", "m.json", "--experiment", "knn", "--out", "p"], "exactly one"),
        (["predict", "--mapping", "missing.json", "--out", "p"], "cannot read"),
        (["predict", "--mapping", "m.json", "--stride", "5", "--out", "p"], "--stride"),
    ],
)
def test_user_mistakes_are_one_line(sample_root, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text("{}")
    result = CliRunner().invoke(cli, [*args, "--data", str(sample_root)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_label_serves_on_localhost_until_interrupted(sample_root, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "flair_hdbscan.cli.main",
        "label",
        "--data",
        str(sample_root),
        "--experiment",
        "kmeans-6",
        "--out",
        str(tmp_path / "label"),
        "--no-browser",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in proc.stdout:
            if line.startswith("labelling page: "):
                url = line.split(": ", 1)[1].strip()
                break
        assert url is not None and url.startswith("http://127.0.0.1:")
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/state?token={token}", timeout=30) as resp:
            state = json.loads(resp.read())
        assert state["item"]["position"] == 0 and state["progress"]["clusters"] == 6
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "every answer is in" in rest and "Traceback" not in err
