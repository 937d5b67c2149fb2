"""End-to-end ``spr-or prune`` on tiny data: the outputs, the compact model against the masked one,
the export loading without spr-or, resume after a kill, NaN stops, bad config values."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from spr_or.cli import main
from spr_or.models.registry import create_model
from spr_or.pruning import load_config, run_pruning
from spr_or.pruning.checkpoint import load_checkpoint
from tests.pipeline_helpers import STRONG, TINY

REQUIRED = ["dense_accuracy", "final_accuracy", "params_total", "params_pruned_paper", "params_after_compaction",
            "flops_before", "flops_after", "max_abs_output_diff", "compact_model"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prune")
    results = run_pruning(load_config(None, TINY + STRONG), out, show_progress=False)
    return out, results


def test_run_writes_every_output(tiny_run):
    out, results = tiny_run
    on_disk = json.loads((out / "results.json").read_text())
    for key in REQUIRED:
        assert key in on_disk, key
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "masked_model.pt", "compact_model.pt2",
                 "plots/training_curves.png", "plots/layer_profile.png"):
        assert (out / name).stat().st_size > 0, name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == ["reference"] * 3 + ["train"] * 3 + ["prune", "finetune"]
    assert load_config(out / "config.yaml").to_dict() == load_config(None, TINY + STRONG).to_dict()
    assert 0 <= results["final_accuracy"] <= 100 and results["final_accuracy"] == rows[-1]["test_accuracy"]


def test_pruned_filters_are_zero_and_removed(tiny_run):
    out, results = tiny_run
    masks = load_checkpoint(out / "checkpoints/last.pt")["masks"]
    state = torch.load(out / "masked_model.pt")
    assert results["filters_pruned"] > 0
    for layer, mask in masks.items():
        weight = state[f"{layer}.weight"]
        assert torch.all(weight[mask] == 0) and torch.all(weight[~mask].flatten(1).abs().amax(1) > 0)
    # the paper's count: pruned filters' own weights
    widths = {layer: state[f"{layer}.weight"][0].numel() for layer in masks}
    assert results["params_pruned_paper"] == sum(int(m.sum()) * widths[k] for k, m in masks.items())
    # cnn_digits has no residual coupling: every pruned filter is removed (at most one kept per layer)
    removed = sum(row["removed"] for row in results["per_layer"])
    assert results["filters_pruned"] - len(masks) <= removed <= results["filters_pruned"]
    assert results["params_after_compaction"] < results["params_total"]
    assert results["flops_after"] < results["flops_before"]
    assert results["max_abs_output_diff"] <= 1e-4


def test_exported_model_loads_without_spr_or(tiny_run, tmp_path):
    out, results = tiny_run
    model = create_model("cnn_digits")
    model.load_state_dict(torch.load(out / "masked_model.pt"))
    x = torch.randn(5, 1, 8, 8)
    torch.save({"x": x, "y": model.eval()(x).detach()}, tmp_path / "io.pt")
    script = textwrap.dedent(f"""
        import sys, torch
        data = torch.load({str(tmp_path / 'io.pt')!r})
        compact = torch.export.load({results['compact_model']!r}).module()
        assert not any(name.startswith('spr_or') for name in sys.modules)
        print(float((compact(data['x']) - data['y']).abs().max()))
        print(float((compact(data['x'][:1]) - data['y'][:1]).abs().max()))
    """)
    diffs = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert all(float(d) <= 1e-4 for d in diffs)


def test_resume_after_kill_matches_uninterrupted(tmp_path):
    overrides = TINY + STRONG + ["train.epochs=4", "finetune.epochs=2"]
    uninterrupted = run_pruning(load_config(None, overrides), tmp_path / "whole", show_progress=False)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "spr_or.cli", "prune", "--quiet", "--out", str(out), *overrides]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill in the regularized phase, after its first checkpoint
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "results.json").exists()
    killed_at = load_checkpoint(out / "checkpoints/last.pt")
    assert killed_at["phase"] == "train" and killed_at["optimizer"] is not None  # momentum state resumes too
    assert main(["prune", "--quiet", "--resume", "--out", str(out), *overrides]) == 0
    resumed = json.loads((out / "results.json").read_text())
    for key in ("dense_accuracy", "accuracy_after_pruning", "final_accuracy", "filters_pruned", "params_after_compaction"):
        assert resumed[key] == uninterrupted[key], key
    whole = torch.load(tmp_path / "whole" / "masked_model.pt")
    again = torch.load(out / "masked_model.pt")
    assert all(torch.equal(whole[k], again[k]) for k in whole)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, capsys):
    overrides = TINY + ["train.lr=1e12", "regularizer.proximal=false"]
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--out", str(tmp_path), *overrides])
    assert stop.value.code == 3
    message = capsys.readouterr().err
    assert "nan" in message.lower() or "inf" in message.lower()
    assert "checkpoints/last.pt" in message
    saved = load_checkpoint(tmp_path / "checkpoints/last.pt")
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    # the dense reference finished; the regularized phase diverged in its first epoch
    assert saved["phase"] == "train" and saved["epoch"] == 0 and saved["dense_accuracy"] > 50


@pytest.mark.parametrize("override, key", [
    ("train.lr=-1", "train.lr"), ("regularizer.alpha=1.5", "regularizer.alpha"),
    ("data.dataset=mnist", "data.dataset"), ("train.epochs=2.5", "train.epochs"),
    ("trian.lr=0.1", "trian"), ("regularizer.M=reference", None), ("model=resnet9", "model"),
    ("prune.zero_fraction=1", "prune.zero_fraction"), ("runtime.device=tpu", "runtime.device"),
    ("regularizer.scope=removable", "regularizer.scope"), ("regularizer.entities=heads", "regularizer.entities"),
])
def test_bad_config_value_names_the_key(override, key, tmp_path, capsys):
    extra = ["reference.epochs=0", "start_from=scratch"] if key is None else []
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--out", str(tmp_path), *extra, override])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert (key or "regularizer.M") in err
    assert not (tmp_path / "checkpoints").exists()


def test_existing_run_is_not_overwritten(tiny_run, capsys):
    out, _ = tiny_run
    with pytest.raises(SystemExit):
        main(["prune", "--quiet", "--out", str(out), *TINY, *STRONG])
    assert "--resume" in capsys.readouterr().err


def test_default_entities_remove_every_pruned_channel_of_the_residual_stream(tmp_path):
    """With the default ``entities: groups`` on the residual MNIST-1D network, every pruned entity
    is removed (``compaction_kept`` empty), residual-stream channels included, and the compact model
    equals the masked one; with ``entities: filters`` the same pruning level leaves stream filters
    behind (the problem the groups solve)."""
    base = [o for o in TINY if not o.startswith(("data.dataset", "model"))] + [
        "data.dataset=mnist1d", "data.num_samples=300", "model=resnet1d_mnist1d", "regularizer.lam=1",
        "prune.rule=target", "prune.target=0.5"]
    results = run_pruning(load_config(None, base), tmp_path / "groups", show_progress=False)
    assert results["entities"] == "groups"
    assert results["compaction_kept"] == {}
    by_type = results["removed_by_group_type"]
    assert by_type["residual stream"]["pruned"] > 0
    for row in by_type.values():
        assert row["removed"] == row["pruned"]
    assert results["max_abs_output_diff"] <= 1e-4
    filters = run_pruning(load_config(None, base + ["regularizer.entities=filters"]), tmp_path / "filters",
                          show_progress=False)
    assert filters["compaction_kept"]  # stream filters pruned in some writers only stay


def test_groups_with_torch_pruning_baseline_on_an_option_a_resnet(tmp_path):
    """Torch-Pruning's GroupNormPruner and its group importance on the group entities of an option-A
    ResNet (its padded stream included): every pruned entity removed, outputs equal, and the
    groups left out reported."""
    base = [o for o in TINY if not o.startswith(("data.dataset", "model", "reference.epochs", "train.epochs"))] + [
        "data.dataset=synthetic_cifar10", "data.num_samples=64", "model=resnet20", "reference.epochs=1",
        "train.epochs=1", "regularizer.kind=tp_group_norm", "regularizer.proximal=false", "regularizer.lam=0.01",
        "prune.rule=target", "prune.score=tp_group"]
    results = run_pruning(load_config(None, base), tmp_path / "run", show_progress=False)
    assert results["compaction_kept"] == {}
    by_type = results["removed_by_group_type"]
    assert by_type["padded residual stream"]["removed"] == by_type["padded residual stream"]["pruned"] > 0
    assert results["groups_left_out"] == []
    assert results["max_abs_output_diff"] <= 1e-4
