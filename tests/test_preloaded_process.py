"""Sweep runs forked from the preloaded server (spr_or/sweeps/preloaded_process.py) behave like runs
in a fresh interpreter: the same results to the bit, the same exit codes and captured output, and
stop_children ends them."""

import json
import os
import threading
import time

import pytest
import yaml

from spr_or.pruning import load_config
from spr_or.sweeps import engines, preloaded_process
from tests.pipeline_helpers import STRONG, TINY

pytestmark = pytest.mark.skipif(not preloaded_process.available(), reason="needs POSIX fork server")


def _config_file(tmp_path, extra=()):
    config = load_config(None, TINY + STRONG + ["report.export=false", "report.plots=false", *extra])
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return str(path)


def test_a_preloaded_run_equals_a_fresh_interpreter_run(tmp_path):
    config = _config_file(tmp_path)
    results = {}
    for preloaded in (True, False):
        run_dir = tmp_path / f"preloaded={preloaded}"
        outcome = engines.execute_run(str(run_dir), config, retries=0, preloaded=preloaded)
        assert outcome == {"status": "done", "attempts": 1}, outcome
        results[preloaded] = json.loads((run_dir / "results.json").read_text())
        assert not (run_dir / "compact_model.pt2").exists() and not (run_dir / "plots").exists()
        assert results[preloaded]["compact_model"] is None and results[preloaded]["filters_pruned"] > 0
    for key in ("final_accuracy", "final_validation_accuracy", "filters_pruned", "per_layer", "M",
                "max_abs_output_diff", "conv_params_after_compaction"):
        assert results[True][key] == results[False][key], key


def test_a_failing_preloaded_run_reports_its_exit_code_and_error(tmp_path):
    process = preloaded_process.PreloadedProcess(["prune", "--config", str(tmp_path / "missing.yaml"),
                                                  "--out", str(tmp_path / "out")], dict(os.environ))
    stdout, stderr = process.communicate()
    assert process.returncode not in (0, None)
    assert "missing.yaml" in stdout + stderr


def test_stop_children_ends_a_preloaded_run(tmp_path):
    config = _config_file(tmp_path, ["train.epochs=500"])
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(engines.execute_run(
        str(tmp_path / "run"), config, retries=0, preloaded=True)))
    engines._stopping.clear()
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not engines._children and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engines._children, "the run did not start"
        (process,) = list(engines._children)
        assert isinstance(process, preloaded_process.PreloadedProcess)
        assert engines.stop_children(grace_s=5) == 1
        worker.join(timeout=30)
        assert not worker.is_alive()
        assert process.returncode is not None and process.returncode != 0
        assert outcome["status"] == "failed" and "interrupted" in outcome["error"]
    finally:
        engines._stopping.clear()
