"""Run folders, checkpoints and exports under misuse and damage (issue 12): nothing is written before
the run is validated, one writer per folder, checkpoints loaded without unpickling code, the last
two kept with checksums (a damaged latest falls back to the one before), the compact model checked
against its recorded SHA-256, NaN rejected by the torch penalty as by its numpy twin."""

import json
import os
import pickle
import shutil
import warnings

import pytest
import torch

from spr_or import spr_penalty
from spr_or.cli import main
from spr_or.pruning import ConfigError, load_compact_model, load_config, run_pruning
from spr_or.pruning.checkpoint import CheckpointUnreadable, load_checkpoint
from spr_or.pruning.compaction import CompactModelDamaged
from spr_or.pruning.run_lock import LOCK_FILE, RunFolderBusy, RunLock
from tests.pipeline_helpers import STRONG, TINY


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One tiny run to the end: (folder, results)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    return out, run_pruning(load_config(None, TINY + STRONG), out, show_progress=False)


def copy_of(run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


def test_a_rejected_resume_writes_nothing(finished_run, tmp_path, capsys):
    out = copy_of(finished_run[0], tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--resume", "--out", str(out), *TINY, *STRONG, "train.lr=0.02"])
    assert stop.value.code == 2 and "different config" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("make", ["missing", "empty", "foreign"])
def test_resume_without_a_run_is_an_error_and_writes_nothing(tmp_path, capsys, make):
    out = tmp_path / "out"
    if make != "missing":
        out.mkdir()
    if make == "foreign":
        (out / "notes.txt").write_text("not a run")
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--resume", "--out", str(out), *TINY])
    assert stop.value.code == 2 and "holds no run to resume" in capsys.readouterr().err
    assert not (out / "config.yaml").exists() and (make != "missing" or not out.exists())


def test_an_empty_out_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--out", "", *TINY])
    assert stop.value.code == 2 and "--out must be a non-empty path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):  # another writer holds the folder (flock conflicts across open files)
        with pytest.raises(RunFolderBusy, match=rf"in use by another run \(pid {os.getpid()} on "):
            run_pruning(load_config(None, TINY), out, show_progress=False)
    assert not (out / "config.yaml").exists()
    assert (out / LOCK_FILE).read_text() == ""  # released: the owner record is cleared


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": 999999, "host": "gone", "since": "yesterday"}))
    lock = RunLock(out)
    with pytest.warns(UserWarning, match="pid 999999 on gone"):
        lock.acquire()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_checkpoint_runs_no_code(finished_run, tmp_path, monkeypatch):
    out = copy_of(finished_run[0], tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("last.pt", "previous.pt"):
        path = out / "checkpoints" / name
        with open(path, "wb") as f:
            pickle.dump({"model": _RunsCode()}, f)
        (out / "checkpoints" / f"{name}.sha256").unlink()
    with pytest.raises(CheckpointUnreadable, match="no good checkpoint"):
        run_pruning(load_config(None, TINY + STRONG), out, resume=True, show_progress=False)
    assert not (tmp_path / "pwned").exists()


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(finished_run, tmp_path):
    run, results = finished_run
    out = copy_of(run, tmp_path)
    latest = out / "checkpoints" / "last.pt"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # truncated
    with pytest.warns(UserWarning, match="resuming from the checkpoint before it"):
        resumed = run_pruning(load_config(None, TINY + STRONG), out, resume=True, show_progress=False)
    for key in ("final_accuracy", "filters_pruned", "params_after_compaction", "max_abs_output_diff"):
        assert resumed[key] == results[key], key


def test_a_checkpoint_failing_its_checksum_is_not_trusted(finished_run, tmp_path, capsys):
    out = copy_of(finished_run[0], tmp_path)
    for name in ("last.pt", "previous.pt"):  # same size, one byte changed: only the checksum sees it
        path = out / "checkpoints" / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(CheckpointUnreadable, match="SHA-256 differs"):
        load_checkpoint(out / "checkpoints" / "last.pt")
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--resume", "--out", str(out), *TINY, *STRONG])
    message = capsys.readouterr().err
    assert stop.value.code == 2 and "last.pt" in message and "previous.pt" in message


def test_the_compact_model_is_checked_against_its_recorded_checksum(finished_run, tmp_path):
    out = copy_of(finished_run[0], tmp_path)
    results = finished_run[1]
    assert len(results["compact_model_sha256"]) == 64
    model = load_compact_model(out)
    x = torch.randn(3, 1, 8, 8)
    assert model(x).shape == (3, 10)
    path = out / "compact_model.pt2"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CompactModelDamaged, match="differs from the recorded"):
        load_compact_model(out)
    assert not list(out.glob(".compact_model*"))  # no temporary file left behind by the export


@pytest.mark.parametrize("content", ["text", "other_model", "module"])
def test_a_wrong_reference_model_file_names_the_key(tmp_path, content):
    path = tmp_path / "reference.pt"
    if content == "text":
        path.write_text("not a checkpoint")
    elif content == "other_model":
        torch.save({"conv.weight": torch.zeros(3)}, path)
    else:
        torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(ConfigError, match="reference_model: "):
        run_pruning(load_config(None, TINY + [f"reference_model={path}"]), tmp_path / "run", show_progress=False)


def test_the_torch_penalty_rejects_nan_like_its_numpy_twin():
    W = torch.ones(3, 4)
    W[1, 2] = float("nan")
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        spr_penalty(W, 0.3, 2.0)
    W[1, 2] = float("inf")
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        spr_penalty(W, 0.3, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isfinite(spr_penalty(torch.ones(3, 4), 0.3, 2.0)).all()
