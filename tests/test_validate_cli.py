"""``spr-or validate`` as a user runs it: table, JSON, plots, and errors naming the argument."""

import json
import subprocess
import sys

from spr_or.cli import main


def test_validate_writes_results_and_plots(tmp_path, capsys):
    assert main(["validate", "--instances", "3", "--seed", "4", "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "paper_code" in printed and "projected SPR vs perspective optimum" in printed
    results = json.loads((tmp_path / "validation.json").read_text())
    summary = results["summary"]
    assert len(results["instances"]) == 3
    assert summary["variants"]["exact"]["active_entities"]["worst"] < 1e-4
    assert summary["variants"]["paper"]["active_entities"]["median"] > 1e-2
    assert summary["projected_vs_perspective"]["worst"] < 1e-6
    assert summary["bigm_over_perspective"]["violations"] == 0
    for path in results["plots"].values():
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_validate_rejects_bad_arguments(tmp_path):
    run = subprocess.run([sys.executable, "-m", "spr_or.cli", "validate", "--instances", "0", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "instances must be an integer >= 1" in run.stderr
    run = subprocess.run([sys.executable, "-m", "spr_or.cli", "validate", "--alpha-max", "1.0", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "alpha_max" in run.stderr
