"""The pipeline with a validation split: every evaluation measures it next to the test split, the
results record the split, and a run saved before ``data.validation`` existed resumes as it was (no
validation split), while a run's own split is kept and checked on resume."""

import json
import shutil

import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from spr_or.data import load_datasets
from spr_or.data.splits import dataset_labels, held_out_indices, indices_sha256
from spr_or.models.registry import create_model
from spr_or.pruning import load_config, run_pruning
from spr_or.pruning import pipeline
from spr_or.pruning.checkpoint import load_checkpoint, save_checkpoint
from spr_or.pruning.config import ConfigError
from spr_or.pruning.training import evaluate

ONE_EPOCH = ["data.dataset=digits", "model=cnn_digits", "reference.epochs=1", "reference.milestones=[]",
             "train.epochs=1", "train.milestones=[]", "finetune.epochs=1", "finetune.milestones=[]",
             "finetune.lr=0.01", "report.latency_repeats=1", "report.latency_batch_sizes=[1]", "runtime.threads=1",
             "regularizer.lam=50", "prune.rule=target", "prune.target=0.3", "seed=4"]


@pytest.fixture(scope="module")
def validated_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("validated")
    return out, run_pruning(load_config(None, ONE_EPOCH), out, show_progress=False)


def test_every_evaluation_measures_the_validation_split(validated_run):
    out, results = validated_run
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["phase"] != "prune"]
    assert [r["phase"] for r in rows] == ["reference", "train", "prune", "finetune"]
    for row in epochs:
        assert 0 <= row["validation_accuracy"] <= 100 and row["validation_loss"] > 0 and "test_accuracy" in row
    assert rows[2]["validation_accuracy"] is not None
    assert results["final_validation_accuracy"] == rows[-1]["validation_accuracy"]
    assert results["validation_accuracy_after_pruning"] == rows[2]["validation_accuracy"]
    assert results["dense_validation_accuracy"] == rows[0]["validation_accuracy"]
    on_disk = json.loads((out / "results.json").read_text())
    for key in ("dense_validation_accuracy", "validation_accuracy_after_pruning", "final_validation_accuracy",
                "split"):
        assert on_disk[key] == results[key] and on_disk[key] is not None


def test_the_split_record_and_the_validation_accuracy_are_those_of_the_held_out_examples(validated_run):
    out, results = validated_run
    whole = load_datasets("digits")
    held = held_out_indices(dataset_labels(whole.train), 216, 4)  # digits' 15%, the run's seed
    assert results["split"] == {"train": 1437 - 216, "validation": 216, "test": 360, "validation_seed": 4,
                                "validation_indices_sha256": indices_sha256(held), "stratified": True}
    # the final (masked) model on exactly those examples, through the DataLoader path: what the run
    # measured on the device-resident path
    model = create_model("cnn_digits")
    model.load_state_dict(torch.load(out / "masked_model.pt"))
    x, y = whole.train.tensors
    loader = DataLoader(torch.utils.data.TensorDataset(x[held], y[held]), batch_size=512)
    again = evaluate(model, loader, torch.device("cpu"))["test_accuracy"]
    assert results["data_loader"] == "device"
    assert again == pytest.approx(results["final_validation_accuracy"], abs=1e-9)
    test = evaluate(model, DataLoader(whole.test, batch_size=512), torch.device("cpu"))["test_accuracy"]
    assert test == pytest.approx(results["final_accuracy"], abs=1e-9)


class _Stop(Exception):
    pass


def _stopped_before_pruning(overrides, out, monkeypatch):
    """A run of ``overrides`` stopped after its regularized phase (checkpoint at phase "prune")."""
    def stop(self):
        raise _Stop
    with monkeypatch.context() as patch:
        patch.setattr(pipeline.PruningRun, "_prune", stop)
        with pytest.raises(_Stop):
            run_pruning(load_config(None, overrides), out, show_progress=False)
    saved = load_checkpoint(out / "checkpoints" / "last.pt")
    assert saved["phase"] == "prune"
    return saved


def _as_saved_before_the_split_existed(out, saved):
    """Rewrite the folder's checkpoint and config as a version without data.validation wrote them."""
    for key in ("split", "dense_validation_accuracy", "validation_accuracy_after_pruning"):
        del saved[key]
    for config in (saved["config"], yaml.safe_load((out / "config.yaml").read_text())):
        del config["data"]["validation"], config["data"]["validation_seed"]
    (out / "config.yaml").write_text(yaml.safe_dump(saved["config"], sort_keys=False))
    for row in saved["metrics"]:
        row.pop("validation_accuracy", None), row.pop("validation_loss", None)
    save_checkpoint(saved, out / "checkpoints")


def test_a_run_saved_before_the_key_resumes_without_a_validation_split(tmp_path, monkeypatch):
    reference = run_pruning(load_config(None, ONE_EPOCH + ["data.validation=0"]), tmp_path / "whole",
                            show_progress=False)
    assert reference["split"]["validation"] == 0 and reference["final_validation_accuracy"] is None
    old = tmp_path / "old"
    saved = _stopped_before_pruning(ONE_EPOCH + ["data.validation=0"], old, monkeypatch)
    _as_saved_before_the_split_existed(old, saved)
    shutil.copytree(old, tmp_path / "old_again")
    shutil.copytree(old, tmp_path / "old_refused")
    # the same command as it was started with (data.validation at its default now) resumes it, and
    # it ends as the uninterrupted run without a validation split: nothing was held out
    resumed = run_pruning(load_config(None, ONE_EPOCH), old, resume=True, show_progress=False)
    assert resumed["split"]["validation"] == 0 and resumed["split"]["train"] == 1437
    assert resumed["final_validation_accuracy"] is None and resumed["validation_accuracy_after_pruning"] is None
    for key in ("final_accuracy", "accuracy_after_pruning", "filters_pruned", "params_after_compaction"):
        assert resumed[key] == reference[key], key
    whole, again = torch.load(tmp_path / "whole" / "masked_model.pt"), torch.load(old / "masked_model.pt")
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    # once resumed, its checkpoint records the split it keeps: a second resume keeps it too
    assert load_checkpoint(old / "checkpoints" / "last.pt")["split"]["validation"] == 0
    # data.validation=0 said explicitly is the same run; asking for a validation split is another config
    explicit = run_pruning(load_config(None, ONE_EPOCH + ["data.validation=0"]), tmp_path / "old_again",
                           resume=True, show_progress=False)
    assert explicit["final_accuracy"] == reference["final_accuracy"]
    with pytest.raises(ConfigError, match="different config.*data"):
        run_pruning(load_config(None, ONE_EPOCH + ["data.validation=100"]), tmp_path / "old_refused", resume=True,
                    show_progress=False)


def test_a_resumed_run_keeps_and_checks_its_own_split(tmp_path, monkeypatch):
    out = tmp_path / "run"
    saved = _stopped_before_pruning(ONE_EPOCH, out, monkeypatch)
    assert saved["split"]["validation"] == 216
    shutil.copytree(out, tmp_path / "tampered")
    with pytest.raises(ConfigError, match="different config.*data"):
        run_pruning(load_config(None, ONE_EPOCH + ["data.validation=100"]), out, resume=True, show_progress=False)
    # held-out indices that are not those the run started with (other data): refused, not mixed
    tampered = load_checkpoint(tmp_path / "tampered" / "checkpoints" / "last.pt")
    tampered["split"]["validation_indices_sha256"] = "0" * 64
    save_checkpoint(tampered, tmp_path / "tampered" / "checkpoints")
    before = (tmp_path / "tampered" / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="held out other training examples"):
        run_pruning(load_config(None, ONE_EPOCH + ["report.latency_repeats=2"]), tmp_path / "tampered", resume=True,
                    show_progress=False)
    assert (tmp_path / "tampered" / "config.yaml").read_text() == before  # refused before anything is written
    resumed = run_pruning(load_config(None, ONE_EPOCH), out, resume=True, show_progress=False)
    assert resumed["split"] == saved["split"] and resumed["final_validation_accuracy"] is not None
