"""The plot of ``spr-or gaps --layers`` (spr_or.studies.layer_gap_plots) from hand-made entries of
layers.json: a PNG is written (atomically: no temporary file left) from the study's records or from
the table's rows, and bad input is a clear error."""

import copy

import pytest

from spr_core.errors import InvalidArgument
from spr_or.studies.layer_gap_plots import plot_all_layer_gaps, plot_layer_gaps


def _record(layer: str, form: str, *, over_best: float, over_bound: float, status: str) -> dict:
    """An entry of layers.json's "instances" (the keys the plot reads, as the study writes them)."""
    return {"layer": layer, "form": form, "channels_in": 64, "jaccard": 0.25,
            "spr": {"kept": 12, "channels": list(range(12)), "objective": 1.0 + over_best},
            "best": {"kept": 11, "found_by": "bnb", "objective": 1.0},
            "bnb": {"status": status, "lower_bound": (1.0 + over_best) / (1.0 + over_bound)},
            "excess": {"objective": over_best, "objective_over_bound": over_bound, "reconstruction_error": 0.5}}


RECORDS = [_record("stage1.0.conv2", "refit", over_best=0.5, over_bound=0.7, status="time_limit"),
           _record("stage1.0.conv2", "scale", over_best=0.28, over_bound=0.28, status="optimal"),
           _record("stage2.1.conv2", "refit", over_best=0.14, over_bound=0.31, status="time_limit"),
           _record("stage2.1.conv2", "scale", over_best=0.19, over_bound=0.19, status="optimal")]


def _png(path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return data


def test_the_plot_is_written_from_the_records_and_from_the_table_rows(tmp_path):
    assert plot_layer_gaps(tmp_path / "a.png", RECORDS, title="test") == tmp_path / "a.png"
    _png(tmp_path / "a.png")
    rows = [{"layer": r["layer"], "form": r["form"], "spr_kept": 12, "optimal_kept": 11, "status": r["bnb"]["status"],
             "excess": r["excess"]["objective"], "excess_over_bound": r["excess"]["objective_over_bound"],
             "jaccard": r["jaccard"]} for r in RECORDS[:1]]  # one form, one layer
    _png(plot_layer_gaps(tmp_path / "b.png", rows))
    assert plot_all_layer_gaps(tmp_path, RECORDS) == {"layers": str(tmp_path / "layers.png")}
    _png(tmp_path / "layers.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "layers.png"]  # no temporary file left


def test_bad_records_are_a_clear_error(tmp_path):
    with pytest.raises(InvalidArgument, match="records must hold at least one layer record"):
        plot_layer_gaps(tmp_path / "x.png", [])
    broken = copy.deepcopy(RECORDS[:1])
    del broken[0]["excess"]["objective_over_bound"]
    with pytest.raises(InvalidArgument, match="one lacks 'objective_over_bound'"):
        plot_layer_gaps(tmp_path / "x.png", broken)
    with pytest.raises(InvalidArgument, match="records must be dicts"):
        plot_layer_gaps(tmp_path / "x.png", ["stage1.0.conv2"])
    assert not list(tmp_path.iterdir())
