"""``spr-or gaps`` on a tiny grid: bounds ordered bigm <= perspective <= MIP optimum, files written."""

import json

import pytest

from spr_or.cli import main


def test_gaps_writes_ordered_bounds_table_and_plots(tmp_path, capsys):
    code = main(["gaps", "--out", str(tmp_path), "--groups", "5", "--n", "40", "--alpha", "0.05,0.5", "--lam", "0.1",
                 "--M-factor", "1,3", "--layer-lams", "", "--methods", "highs-oa,enumerate", "--time-limit", "20",
                 "--quiet"])
    assert code == 0
    assert "gap bigm" in capsys.readouterr().out
    results = json.loads((tmp_path / "gaps.json").read_text())
    assert len(results["instances"]) == 4
    for r in results["instances"]:
        assert r["proven_optimal"] and r["methods_agree"]
        bigm, persp = r["bounds"]["bigm"], r["bounds"]["perspective"]
        assert bigm <= persp * (1 + 1e-7) and persp <= r["optimum"] * (1 + 1e-7)
        assert -1e-6 <= r["gap_closed_by_perspective"] <= 1 + 1e-6
        assert r["rounding"]["perspective"]["objective_excess"] >= -1e-9  # no rounding beats the optimum
    for path in results["plots"].values():
        assert open(path, "rb").read(4) == b"\x89PNG"


def test_gaps_rejects_unknown_methods(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["gaps", "--out", str(tmp_path), "--methods", "cplex", "--quiet"])
    assert info.value.code == 2
