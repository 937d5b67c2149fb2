"""``spr-or gaps --layers RUN_DIR`` on a tiny finished run: the table and JSON, their order (bounds <=
best <= the SPR's set), which input channels the SPR kept, and clear errors for a bad RUN_DIR."""

import json

import pytest
import torch

from spr_or.cli import main
from spr_or.entities import build_partition
from spr_or.input_channel_entities import input_channel_entities
from spr_or.layer_calibration import capture_inputs
from spr_or.models.registry import create_model
from spr_or.pruning import load_config, run_pruning
from spr_or.pruning.run_folder import load_finished_run
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


def test_bad_run_dir_names_the_argument_and_what_is_missing(tmp_path, capsys):
    for folder, expected in ((tmp_path / "none", "is not a folder"),
                             (tmp_path, "it has no results.json, reference_model.pt, checkpoints/last.pt")):
        (tmp_path / "config.yaml").write_text("seed: 0\n")
        with pytest.raises(SystemExit) as stop:
            main(["gaps", "--layers", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("spr-or gaps: error: --layers: ") and expected in err and "Traceback" not in err
