"""Lam calibration of a comparison study (spr_or/sweeps/lam_calibration.py, ``spr-or calibrate-lam``):
the grid-picking function on hand-made measurements (monotone and non-monotone, the bounds, at
least 6 log-spaced values), and one tiny end-to-end call with 2 lams, resumed without rerunning."""

import json
import math

import pytest
import torch
import yaml

from spr_or import create_model
from spr_or.cli import main
from spr_or.sweeps.lam_calibration import (Measurement, batchnorm_share, log_grid, measure_run, output_width,
                                           propose_grid)
from tests.pipeline_helpers import TINY

LAMS = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0]


def _measured(shares, accuracies, lams=LAMS):
    return [Measurement(lam, share, accuracy) for lam, share, accuracy in zip(lams, shares, accuracies)]


def _assert_log_spaced(grid, low, high, size):
    assert len(grid) == size and grid[0] == low and grid[-1] == high
    assert all(a < b for a, b in zip(grid, grid[1:]))
    ratios = [math.log(b / a) for a, b in zip(grid, grid[1:])]
    expected = math.log(high / low) / (size - 1)
    assert all(abs(r - expected) <= 0.01 for r in ratios), ratios  # 3 significant digits


def test_monotone_measurements_give_the_bracket_and_a_log_grid():
    measured = _measured([0.0, 0.0, 0.005, 0.2, 0.6, 0.995, 1.0], [99, 99, 99, 98, 90, 20, 10])
    proposal = propose_grid(measured, floor=15.0)
    assert (proposal.low, proposal.high) == (0.1, 100.0)  # 0.5% prunes nothing; 99.5% pruned collapses
    _assert_log_spaced(proposal.grid, 0.1, 100.0, 6)
    assert proposal.notes == []
    assert propose_grid(list(reversed(measured)), floor=15.0).grid == proposal.grid  # order does not matter
    eight = propose_grid(measured, floor=15.0, size=8)
    _assert_log_spaced(eight.grid, 0.1, 100.0, 8)


def test_accuracy_below_the_floor_is_a_collapse_even_with_little_pruned():
    proposal = propose_grid(_measured([0.0, 0.0, 0.1, 0.3, 0.5, 0.6, 0.7], [99, 99, 98, 95, 14, 12, 10]), floor=15.0)
    assert (proposal.low, proposal.high) == (0.01, 10.0)
    _assert_log_spaced(proposal.grid, 0.01, 10.0, 6)


def test_non_monotone_measurements_widen_the_grid():
    """A lam that prunes, then one that does not: the grid starts before the first; a collapse, then
    a lam that does not collapse: the grid ends at the last transition. Both are noted."""
    measured = _measured([0.0, 0.05, 0.0, 0.3, 0.5, 0.7, 1.0], [99, 99, 99, 14, 90, 12, 10])
    proposal = propose_grid(measured, floor=15.0)
    assert (proposal.low, proposal.high) == (0.001, 100.0)
    _assert_log_spaced(proposal.grid, 0.001, 100.0, 6)
    assert any("collapsed below lams that did not" in n for n in proposal.notes)
    assert any("pruned nothing above a lam that pruned" in n for n in proposal.notes)


def test_open_ends_and_divergence():
    # no collapse up to the largest lam, and pruning from the smallest: the measured ends, noted
    proposal = propose_grid(_measured([0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [99] * 7), floor=15.0)
    assert (proposal.low, proposal.high) == (1e-3, 1e3)
    assert any("no collapse" in n for n in proposal.notes) and any("prunes already" in n for n in proposal.notes)
    # a diverged run (NaN loss) is a collapse
    measured = _measured([0.0, 0.0, 0.0, 0.2, 0.5], [99, 99, 99, 97, 90], LAMS[:5])
    measured.append(Measurement(100.0, None, None, diverged=True))
    assert propose_grid(measured, floor=15.0).high == 100.0
    # every lam collapses: no grid
    proposal = propose_grid(_measured([1.0] * 3, [10] * 3, LAMS[:3]), floor=15.0)
    assert proposal.grid is None and "measure smaller lams" in proposal.notes[0]


def test_a_method_that_never_prunes_before_it_collapses():
    """The threshold rule on a subgradient method: nothing below 1% until accuracy collapses; the
    grid runs from the last lam before the collapse to the collapse, noted."""
    proposal = propose_grid(_measured([0.0] * 7, [99, 99, 99, 99, 98, 10, 10]), floor=15.0)
    assert (proposal.low, proposal.high) == (10.0, 100.0)
    _assert_log_spaced(proposal.grid, 10.0, 100.0, 6)
    assert any("prunes nothing before it collapses" in n for n in proposal.notes)


def test_the_grid_starts_where_the_penalty_starts_to_act_not_where_the_model_is_already_damaged():
    """A subgradient method whose own rule never prunes (share 0 throughout) but whose validation
    accuracy moves from some lam on (what its matched targets then rank): the grid starts at the last
    lam that leaves the accuracy within accuracy_tol of the smallest lam's, not at the last lam
    before the collapse (the digits calibration: spr_exact 98.6 / 98.6 / 98.2 / 69.4 / 10.2)."""
    measured = [Measurement(lam, 0.0, accuracy) for lam, accuracy in
                zip([0.1, 1.0, 10.0, 100.0, 1000.0], [98.6, 98.6, 98.2, 69.4, 10.2])]
    proposal = propose_grid(measured, floor=15.0)
    assert (proposal.low, proposal.high) == (10.0, 1000.0)
    strict = propose_grid(measured, floor=15.0, accuracy_tol=0.1)
    assert (strict.low, strict.high) == (1.0, 1000.0)


def test_bad_measurements_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        propose_grid([Measurement(1.0, 0.0, 99.0)], floor=15.0)
    with pytest.raises(ValueError, match="distinct"):
        propose_grid([Measurement(1.0, 0.0, 99.0), Measurement(1.0, 0.5, 90.0)], floor=15.0)
    with pytest.raises(ValueError, match="size"):
        propose_grid(_measured([0.0, 1.0], [99, 10], [1.0, 10.0]), floor=15.0, size=1)
    with pytest.raises(ValueError, match="low < high"):
        log_grid(10.0, 1.0, 6)


def test_what_a_run_folder_measures(tmp_path):
    """A folder without results is not measured, unless its log says the run stopped on a NaN loss
    (a collapse); the BatchNorm share and the number of classes are read from a saved state_dict."""
    assert measure_run(tmp_path) is None
    (tmp_path / "log.txt").write_text("spr-or prune: stopped: train 3: the loss became nan within steps 1-25\n")
    assert measure_run(tmp_path)["diverged"] is True
    model = create_model("cnn_digits")
    with torch.no_grad():
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        norms[0].weight[:16] = 1e-5  # 16 of the 32 + 64 + 64 scales
    torch.save(model.state_dict(), tmp_path / "model.pt")
    assert batchnorm_share(tmp_path / "model.pt", 1e-3) == pytest.approx(16 / 160)
    assert output_width(tmp_path / "model.pt") == 10


def test_a_tiny_calibration_runs_resumes_and_refuses_another_schedule(tmp_path, capsys):
    base = {}
    for override in TINY:
        key, value = override.split("=", 1)
        node = base
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    study = {"name": "tiny_study", "base": base, "seeds": [0, 1], "grid": {"prune.target": [0.5, 0.9]},
             "points": [{"method": "spr_exact_prox", "regularizer.kind": "spr", "regularizer.proximal": True,
                         "regularizer.lam": 5.0, "prune.rule": "target"},
                        {"method": "spr_exact_prox", "regularizer.kind": "spr", "regularizer.proximal": True,
                         "regularizer.lam": 50.0, "prune.rule": "target"},
                        {"method": "l1", "regularizer.kind": "l1", "regularizer.proximal": False,
                         "regularizer.lam": 1.0}]}
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(study))
    out = tmp_path / "calibration"
    command = ["calibrate-lam", str(config), "--out", str(out), "--methods", "spr_exact_prox", "--lams", "1,80",
               "--train-epochs", "1", "--finetune-epochs", "0", "--quiet"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "spr_exact_prox (rule exact_zeros" in printed and "proposed grid" in printed
    runs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    assert runs == ["spr_exact_prox_lam=1", "spr_exact_prox_lam=80"]
    saved = yaml.safe_load((out / "runs" / "spr_exact_prox_lam=80" / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 1 and saved["finetune"]["epochs"] == 0 and saved["seed"] == 0
    assert saved["prune"]["rule"] == "exact_zeros" and saved["regularizer"]["lam"] == 80.0
    measured = json.loads((out / "measurements.json").read_text())
    rows = measured["methods"]["spr_exact_prox"]
    assert [r["lam"] for r in rows] == [1.0, 80.0] and all(0.0 <= r["share"] <= 1.0 for r in rows)
    assert all(r["split"] == "validation" for r in rows) and measured["floor"] == pytest.approx(15.0)
    grids = yaml.safe_load((out / "grids.yaml").read_text())
    entry = grids["methods"]["spr_exact_prox"]
    assert entry["rule"] == "exact_zeros" and (entry["grid"] is None or len(entry["grid"]) == 6)
    results = out / "runs" / "spr_exact_prox_lam=1" / "results.json"
    stamp = results.stat().st_mtime_ns
    assert main(command) == 0  # resumed: nothing rerun
    assert results.stat().st_mtime_ns == stamp
    status = json.loads((out / "sweep_status.json").read_text())
    assert {v["status"] for v in status.values()} == {"skipped (already done)"}
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([*command[:-5], "--train-epochs", "2", "--finetune-epochs", "0", "--quiet"])
    assert stop.value.code == 2 and "another schedule" in capsys.readouterr().err
