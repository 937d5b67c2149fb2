"""``spr-or gaps --layers RUN_DIR`` on a tiny finished run: the table, JSON and plot, their order
(bounds <= best <= the SPR's set), which input channels the SPR kept, the lam-free refit on all
outputs, and clear errors for a bad RUN_DIR, a run with no layer to study and bad options."""

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from mip_models.conv_channel_selection import conv_channel_selection
from spr_core.errors import InvalidArgument
from spr_or.cli import main
from spr_or.entities import build_partition
from spr_or.input_channel_entities import input_channel_entities
from spr_or.layer_calibration import capture_inputs, unfold_patches
from spr_or.models.registry import create_model
from spr_or.pruning import load_config, run_pruning
from spr_or.pruning.checkpoint import load_checkpoint, save_checkpoint
from spr_or.pruning.run_folder import load_finished_run
from spr_or.studies.layer_gaps import LayerGapConfig, study_selection
from tests.pipeline_helpers import TINY

#: one epoch per phase; the matched-sparsity rule prunes half of the weights of every group
RUN = TINY + ["reference.epochs=1", "train.epochs=1", "report.latency_batch_sizes=[1]", "prune.rule=target",
              "prune.target=0.5"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run_pruning(load_config(None, RUN), out, show_progress=False)
    return out


def test_gaps_layers_writes_the_table_and_ordered_json(run_dir, tmp_path, capsys):
    code = main(["gaps", "--layers", str(run_dir), "--out", str(tmp_path), "--forms", "scale", "--time-limit", "2",
                 "--calibration-samples", "64", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "k SPR" in out and "Jaccard" in out and "0: no entity of the run zeroes its input channels" in out
    results = json.loads((tmp_path / "layers.json").read_text())
    assert (tmp_path / "layers_table.txt").read_text().strip() == out.split("\nwrote ")[0].strip()
    assert "and plots layers.png" in out and (tmp_path / "layers.png").read_bytes()[:4] == b"\x89PNG"
    assert results["plots"] == {"layers": str(tmp_path / "layers.png")}
    masks = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["masks"]
    assert [r["layer"] for r in results["instances"]] == ["3", "7"]  # conv "0" reads the image
    for r in results["instances"]:
        assert r["spr"]["kept"] == int((~masks[r["entity_layer"]]).sum()) < r["channels_in"]
        best, spr, bound = r["best"]["objective"], r["spr"]["objective"], r["bnb"]["lower_bound"]
        assert best <= spr * (1 + 1e-9) and bound <= best * (1 + 1e-9)
        for kind in ("perspective", "bigm"):
            assert r["bounds"][kind]["status"] == "optimal"
            assert r["bounds"][kind]["objective"] <= best * (1 + 1e-7)
        assert r["bounds"]["bigm"]["objective"] <= r["bounds"]["perspective"]["objective"] * (1 + 1e-7)
        assert 0.0 <= r["jaccard"] <= 1.0 and r["excess"]["objective"] >= -1e-9


def test_the_kept_channels_are_the_nonzero_inputs_of_the_masked_model(run_dir):
    run = load_finished_run(run_dir)
    mapping = input_channel_entities(run.model, run.example, run.layers)
    run.model.load_state_dict(torch.load(run_dir / "masked_model.pt", weights_only=True))
    inputs = capture_inputs(run.model, ["3", "7"], torch.stack([run.train[i][0] for i in range(32)]))
    for name, x in inputs.items():
        alive = x.abs().amax(dim=tuple(d for d in range(x.dim()) if d != 1)) > 0
        assert set(torch.nonzero(alive).flatten().tolist()) <= set(mapping[name].kept(run.masks))
        assert not alive[[c for c in range(x.shape[1]) if c not in mapping[name].kept(run.masks)]].any()


def test_residual_streams_are_reported_not_guessed():
    model = create_model("resnet1d_mnist1d", 10)
    example = torch.zeros(2, 1, 40)
    mapping = input_channel_entities(model, example, build_partition(model, "groups", example_input=example))
    assert "network's input" in mapping["conv1"].reason
    assert "read by 5 layers" in mapping["stage1.0.conv1"].reason  # the stream: 4 blocks and the classifier
    assert mapping["stage1.0.conv2"].entity_layer == "stage1.0.conv1" and mapping["stage1.0.conv2"].reason is None
    filters = input_channel_entities(model, example, build_partition(model, "filters"))
    assert "entities (several writers" in filters["stage1.1.conv1"].reason


def test_channels_pruned_together_are_reported_not_split():
    """Behind a grouped convolution a ``groups`` entity is one position of every convolution group, so
    a 1x1 convolution after it reads channels c and c + 4 of one entity: not a selection of its own."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    example = torch.zeros(2, 3, 6, 6)
    mapping = input_channel_entities(model, example, build_partition(model, "groups", example_input=example))
    assert mapping["6"].entities is None
    assert "input channels 0 and 4 belong to one entity of '3' (pruned together" in mapping["6"].reason
    filters = input_channel_entities(model, example, build_partition(model, "filters"))
    assert filters["6"].reason is None and filters["6"].entities == list(range(8))  # one filter per channel


def test_bad_run_dir_names_the_argument_and_what_is_missing(tmp_path, capsys):
    for folder, expected in ((tmp_path / "none", "is not a folder"),
                             (tmp_path, "it has no results.json, reference_model.pt, checkpoints/last.pt")):
        (tmp_path / "config.yaml").write_text("seed: 0\n")
        with pytest.raises(SystemExit) as stop:
            main(["gaps", "--layers", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("spr-or gaps: error: --layers: ") and expected in err and "Traceback" not in err


def test_the_all_outputs_error_is_the_least_squares_refit_in_both_forms():
    """Both forms' records give the same all-outputs error for the same set: the least-squares refit of
    its channels on every output, whatever lam each form's search chose (it was once a ridge refit with
    the form's own lam, which for "scale" is in units of beta and shrank the refit arbitrarily)."""
    torch.manual_seed(0)
    conv = nn.Conv1d(4, 3, 3, padding=1, bias=False).double()
    patches = unfold_patches(conv, torch.randn(8, 4, 12, dtype=torch.float64)).numpy()
    weight = 10 * conv.weight.detach().numpy()  # large weights: lam ~ ||W||^2 makes a ridge lam alpha ||B||^2 bite
    Y = patches @ weight.reshape(3, -1).T
    cols = np.r_[0:3, 6:9]  # channels 0 and 2
    B = np.linalg.lstsq(patches[:, cols], Y, rcond=None)[0]
    expected = float(np.sum((patches[:, cols] @ B - Y) ** 2)) / float(np.sum(Y**2))
    for form in ("refit", "scale"):
        selection = conv_channel_selection(weight, patches, form=form, lam=1.0, alpha=0.3)
        record = study_selection(selection, [0, 2], time_limit=2.0, lam_steps=4)
        assert record["spr"]["channels"] == [0, 2] and record["spr"]["kept"] == 2
        assert record["spr"]["all_outputs_error"] == pytest.approx(expected, rel=1e-8)
        ridge = selection.with_lam(record["lam"]).all_outputs_objective(selection.support([0, 2]))[0]
        assert ridge / selection.energy > expected * 1.05  # what the record held before: lam-dependent


def test_the_calibration_data_is_the_training_split_the_run_had(run_dir, tmp_path):
    """A run read back trains on what it trained on: its recorded validation split held out; a run
    saved before the split existed (no record in its checkpoint, no key in its config) on all of it."""
    run = load_finished_run(run_dir)
    recorded = load_checkpoint(run_dir / "checkpoints" / "last.pt")["split"]
    assert recorded["validation"] > 0 and len(run.train) == recorded["train"]
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    state = load_checkpoint(old / "checkpoints" / "last.pt")
    del state["split"]
    save_checkpoint(state, old / "checkpoints")
    config = yaml.safe_load((old / "config.yaml").read_text())
    config["data"] = {k: v for k, v in config["data"].items() if k not in ("validation", "validation_seed")}
    (old / "config.yaml").write_text(yaml.safe_dump(config))
    assert len(load_finished_run(old).train) == recorded["train"] + recorded["validation"]


def test_a_run_with_no_layer_to_study_is_a_clear_error(run_dir, tmp_path, capsys):
    """A run whose SPR pruned no input channel of any layer (here: its masks set to keep all) leaves no
    selection to study: an error naming --layers with each layer's reason, not an empty table."""
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    state = load_checkpoint(folder / "checkpoints" / "last.pt")
    state["masks"] = {name: torch.zeros_like(mask) for name, mask in state["masks"].items()}
    save_checkpoint(state, folder / "checkpoints")
    with pytest.raises(SystemExit) as stop:
        main(["gaps", "--layers", str(folder), "--out", str(tmp_path / "out"), "--forms", "scale", "--quiet"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("spr-or gaps: error: --layers: no convolution of the run in") and "Traceback" not in err
    assert "3: the SPR kept 32 of its 32 input channels" in err and "0: no entity of the run" in err
    assert not (tmp_path / "out" / "layers.json").exists()


@pytest.mark.parametrize("options, expected", [
    (["--forms", "prune"], "--forms must be distinct forms among refit, scale, comma-separated"),
    (["--forms", "scale,scale"], "--forms must be distinct forms among refit, scale"),
    (["--forms", ","], "--forms must be distinct forms among refit, scale"),
    (["--calibration-samples", "0"], "argument --calibration-samples: expected an integer >= 1"),
    (["--max-features", "x"], "argument --max-features: expected an integer >= 1"),
    (["--layer-alpha", "1.5"], "argument --layer-alpha: expected a number in the open interval (0, 1)"),
])
def test_bad_layer_options_name_the_option_and_what_is_allowed(tmp_path, capsys, options, expected):
    with pytest.raises(SystemExit) as stop:  # checked before RUN_DIR is read
        main(["gaps", "--layers", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--quiet"] + options)
    assert stop.value.code == 2
    err = capsys.readouterr().err  # argparse's own errors come after the usage line
    assert err.strip().splitlines()[-1].startswith("spr-or gaps: error: ") and expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fields, expected", [
    ({"forms": ("scale", "scale")}, "forms must be distinct forms among"),
    ({"forms": ()}, "forms must be distinct forms among"),
    ({"alpha": 1.0}, "alpha must lie in the open interval"),
    ({"M_factor": 0.5}, "M_factor must be >= 1"),
])
def test_the_config_checks_its_fields_before_any_run_is_read(fields, expected):
    with pytest.raises(InvalidArgument, match=expected):
        LayerGapConfig(run_dir="unread", **fields)
