"""``spr-or report``'s selection of a comparison study's frontier reads the validation accuracy only:
permuting or randomising the test accuracies changes nothing selected, changing a validation
accuracy does; the table shows the selected runs' TEST accuracy; runs without a validation split
(old sweeps) are selected on test with a visible note."""

import json
import random
from pathlib import Path

import pytest

from spr_or.sweeps.report import (FALLBACK_NOTE, gather, pareto_front, select_frontier, write_sweep_report)

TEST_KEYS = ("final_accuracy", "accuracy_after_pruning", "dense_accuracy")


def _rows(seed=0, methods=("spr", "l1"), seeds=(0, 1), lams=(1.0, 10.0), targets=(0.3, 0.5, 0.7, 0.9)):
    rng = random.Random(seed)
    rows = []
    for method in methods:
        for lam in lams:
            for target in targets:
                for s in seeds:
                    rows.append({"name": f"{method}_lam={lam}_target={target}_seed={s}", "method": method,
                                 "regularizer.lam": lam, "prune.target": target, "seed": s,
                                 "final_validation_accuracy": rng.uniform(50, 99),
                                 "conv_params_removed_percent": rng.choice([20.0, 40.0, 60.0, 80.0]) + rng.random(),
                                 "final_accuracy": rng.uniform(50, 99), "accuracy_after_pruning": rng.uniform(10, 99),
                                 "dense_accuracy": rng.uniform(90, 99), "model": "cnn_digits", "dataset": "digits"})
    return rows


def _names(selected):
    return sorted(s["row"]["name"] for s in selected)


class _NoTestKeys(dict):
    """A row whose test accuracies cannot be read."""

    def __getitem__(self, key):
        if key in TEST_KEYS:
            raise AssertionError(f"the selection read the test metric {key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key in TEST_KEYS:
            raise AssertionError(f"the selection read the test metric {key}")
        return super().get(key, default)

    def __iter__(self):
        raise AssertionError("the selection iterated over a whole row")


@pytest.mark.parametrize("seed", range(5))
def test_selection_never_reads_the_test_accuracies(seed):
    rows = _rows(seed)
    chosen = _names(select_frontier(rows))
    assert chosen and all(s["selected_on"] == "validation" for s in select_frontier(rows))
    # the test accuracies permuted between runs, or replaced by noise: the same runs are selected
    rng = random.Random(100 + seed)
    for _ in range(3):
        shuffled = [dict(r) for r in rows]
        for key in TEST_KEYS:
            values = [r[key] for r in shuffled]
            rng.shuffle(values)
            for r, v in zip(shuffled, values):
                r[key] = v if rng.random() < 0.5 else rng.uniform(0, 100)
        assert _names(select_frontier(shuffled)) == chosen
    # and rows whose test accuracies cannot be read at all give the same selection
    assert _names(select_frontier([_NoTestKeys(r) for r in rows])) == chosen


def test_changing_a_validation_accuracy_changes_the_selection():
    base = {"method": "spr", "seed": 0, "final_accuracy": 90.0}
    rows = [dict(base, name="a", final_validation_accuracy=90.0, conv_params_removed_percent=30.0),
            dict(base, name="b", final_validation_accuracy=80.0, conv_params_removed_percent=50.0),
            dict(base, name="c", final_validation_accuracy=70.0, conv_params_removed_percent=40.0)]
    assert _names(select_frontier(rows)) == ["a", "b"]  # c: b removes more at a better validation accuracy
    rows[2]["final_validation_accuracy"] = 85.0
    assert _names(select_frontier(rows)) == ["a", "b", "c"]
    rows[0]["final_validation_accuracy"] = 60.0  # a is now dominated by c
    assert _names(select_frontier(rows)) == ["b", "c"]
    # while the test accuracy of a dominated run, however high, does not bring it back
    rows[0]["final_accuracy"] = 100.0
    assert _names(select_frontier(rows)) == ["b", "c"]


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_is_the_set_of_undominated_points(seed):
    rng = random.Random(seed)
    points = [(rng.choice([60, 70, 80, 90]), rng.choice([10, 30, 50])) for _ in range(25)]
    front = set(pareto_front(points))
    for i, (a, r) in enumerate(points):
        dominated = any(a2 >= a and r2 >= r and (a2, r2) != (a, r) for a2, r2 in points)
        assert (i in front) == (not dominated)


def test_selection_is_per_method_and_seed_over_lam_and_target():
    rows = _rows(3, methods=("spr", "l1"), seeds=(0, 1, 2))
    selected = select_frontier(rows)
    assert {(s["method"], s["seed"]) for s in selected} == {(m, s) for m in ("spr", "l1") for s in (0, 1, 2)}
    for s in selected:  # within its group, nothing has both a higher validation accuracy and more removed
        group = [r for r in rows if r["method"] == s["method"] and r["seed"] == s["seed"]]
        r = s["row"]
        assert not any(o["final_validation_accuracy"] > r["final_validation_accuracy"]
                       and o["conv_params_removed_percent"] > r["conv_params_removed_percent"] for o in group)
    assert len({s["row"]["regularizer.lam"] for s in selected}) == 2  # lam is selected too, not fixed


def _write_sweep(folder, rows, *, validation=True):
    (folder / "runs").mkdir(parents=True)
    runs = []
    for r in rows:
        settings = {k: r[k] for k in ("method", "regularizer.lam", "prune.target", "seed")}
        runs.append({"name": r["name"], "settings": settings})
        results = {k: r[k] for k in ("model", "dataset", "final_accuracy", "accuracy_after_pruning", "dense_accuracy",
                                     "conv_params_removed_percent")}
        if validation:
            results["final_validation_accuracy"] = r["final_validation_accuracy"]
        (folder / "runs" / r["name"]).mkdir()
        (folder / "runs" / r["name"] / "results.json").write_text(json.dumps(results))
    (folder / "sweep.json").write_text(json.dumps({"name": "study", "runs": runs}))


def test_the_report_selects_on_validation_and_shows_test_accuracy(tmp_path):
    rows = _rows(7, lams=(1.0,), targets=(0.3, 0.5), seeds=(0,))
    _write_sweep(tmp_path / "a", rows)
    shuffled = [dict(r) for r in rows]
    tests = [r["final_accuracy"] for r in shuffled][::-1]
    for r, v in zip(shuffled, tests):
        r["final_accuracy"] = v
    _write_sweep(tmp_path / "b", shuffled)
    picked = [_names(select_frontier(gather(tmp_path / f)[1])) for f in ("a", "b")]
    assert picked[0] == picked[1] == _names(select_frontier(rows))
    write_sweep_report(tmp_path / "a")
    table = (tmp_path / "a" / "report" / "methods.md").read_text()
    assert "Validation-selected frontier" in table and "TEST accuracy" in table and FALLBACK_NOTE not in table
    for s in select_frontier(rows):  # the selected runs' test accuracy is what the table shows
        assert f"| {s['row']['final_validation_accuracy']:.2f} | {s['row']['final_accuracy']:.2f} | validation |" \
            in table
    assert "Validation-selected frontier" in (tmp_path / "a" / "report" / "table.md").read_text()
    assert (tmp_path / "a" / "report" / "pareto.png").stat().st_size > 0


def test_an_old_sweep_without_validation_is_selected_on_test_and_says_so(tmp_path):
    rows = _rows(8, lams=(1.0,), targets=(0.3, 0.5, 0.7), seeds=(0, 1))
    _write_sweep(tmp_path, rows, validation=False)
    selected = select_frontier(gather(tmp_path)[1])
    assert selected and all(s["selected_on"] == "test" for s in selected)
    old = [dict(r, final_validation_accuracy=None) for r in rows]
    assert _names(selected) == _names(select_frontier([dict(r, final_validation_accuracy=r["final_accuracy"])
                                                         for r in old]))
    write_sweep_report(tmp_path)
    for name in ("methods.md", "table.md"):
        text = (tmp_path / "report" / name).read_text()
        assert f"**Note: {FALLBACK_NOTE}**" in text and f"test ({FALLBACK_NOTE})" in text


def test_report_into_replaces_only_its_section_and_refuses_a_file_without_markers(tmp_path):
    from spr_core.errors import InvalidArgument
    from spr_or.sweeps.markdown_sections import markers

    rows = _rows(9, methods=("spr_exact_prox", "l1"), lams=(1.0,), targets=(0.3, 0.5, 0.7, 0.9), seeds=(0, 1, 2))
    _write_sweep(tmp_path / "s", rows)
    doc = tmp_path / "docs" / "study.md"
    doc.parent.mkdir()
    begin, end = markers("study")
    doc.write_text(f"# Hand-written\n\nprose before\n\n{begin}\nold table\n{end}\n\nprose after\n")
    written = write_sweep_report(tmp_path / "s", tmp_path / "docs" / "study_out", into=doc)
    text = doc.read_text()
    assert text.startswith("# Hand-written\n\nprose before\n\n") and text.endswith(f"{end}\n\nprose after\n")
    section = text.split(begin)[1].split(end)[0]
    assert "old table" not in section and "paired against spr_exact_prox" in section
    assert "](study_out/differences.png)" in section and "](study_out/pareto.png)" in section
    # the section's table is the report's own removal-level table, not typed anywhere
    own = (tmp_path / "docs" / "study_out" / "methods.md").read_text()
    table_lines = [line for line in section.splitlines() if line.startswith("| l1 |")]
    assert table_lines and all(line in own for line in table_lines)
    assert Path(written["differences"]).stat().st_size > 0
    doc.write_text("no markers here\n")
    with pytest.raises(InvalidArgument, match="BEGIN spr-or report study"):
        write_sweep_report(tmp_path / "s", tmp_path / "docs" / "study_out", into=doc)
    assert doc.read_text() == "no markers here\n"
