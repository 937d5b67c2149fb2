"""Never prune the outputs (issue 13, item 2): the layers whose output channels are the model's
outputs are found from the autograd graph and left out of the output-channel entities; the user's
``ignored_layers`` are left out too, and a name the model lacks is an error."""

import json

import pytest
import torch
import torchvision
from torch import nn

from spr_or import build_partition, create_model, make_regularizer
from spr_or.output_layers import output_layers
from spr_or.pruning import load_config, run_pruning
from spr_or.pruning.pipeline import what_results_depend_on
from tests.pipeline_helpers import STRONG, TINY


class TwoHeads(nn.Module):
    """A convolutional classifier (no Linear) with a second, auxiliary output."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 5, 1)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        h = self.body(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.head(h), 1), 1), self.aux(h.mean((2, 3)))


@pytest.mark.parametrize("make, x, expected", [
    (lambda: torchvision.models.resnet18(num_classes=10), torch.randn(1, 3, 32, 32), ["fc"]),
    (lambda: torchvision.models.squeezenet1_0(num_classes=10), torch.randn(1, 3, 64, 64), ["classifier.1"]),
    (lambda: create_model("resnet20"), torch.randn(1, 3, 32, 32), ["fc"]),
    (lambda: create_model("cnn_digits"), torch.randn(1, 1, 8, 8), ["12"]),
    (TwoHeads, torch.randn(2, 3, 9, 9), ["head", "aux"]),
])
def test_output_layers_are_the_layers_that_write_the_outputs(make, x, expected):
    model = make().train()
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    assert sorted(output_layers(model, x)) == sorted(expected)
    assert model.training  # the mode is restored, and no BatchNorm statistic moved
    assert all(torch.equal(buffers[k], v) for k, v in model.state_dict().items())


def test_a_convolutional_classifier_is_never_a_filter_entity():
    model, x = torchvision.models.squeezenet1_0(num_classes=10), torch.randn(1, 3, 64, 64)
    names = [layer.name for layer in build_partition(model, "filters")]
    kept = [layer.name for layer in build_partition(model, "filters", example_input=x)]
    assert "classifier.1" in names and kept == [n for n in names if n != "classifier.1"]
    assert [layer.name for layer in build_partition(TwoHeads(), "neurons")] == ["aux"]
    with pytest.raises(ValueError, match="no layers with entities of kind 'neurons'"):  # its one Linear is an output
        build_partition(TwoHeads(), "neurons", example_input=torch.randn(1, 3, 9, 9))


def test_ignored_layers_are_left_out_and_unknown_names_refused():
    model = create_model("cnn_digits")
    reg = make_regularizer("l1", model, lam=1.0, ignored_layers=["3"])
    assert [layer.name for layer in reg.layers] == ["0", "7"]
    with pytest.raises(ValueError, match=r"ignored_layers: the model has no modules \['conv9'\]"):
        make_regularizer("l1", model, lam=1.0, ignored_layers=["conv9"])


def test_the_pipeline_leaves_ignored_layers_alone(tmp_path):
    results = run_pruning(load_config(None, TINY + STRONG + ['regularizer.ignored_layers=["3"]']), tmp_path,
                          show_progress=False)
    assert [row["layer"] for row in results["per_layer"]] == ["0", "7"]
    saved = json.loads(json.dumps(load_config(None, TINY).to_dict()))
    del saved["regularizer"]["ignored_layers"]  # a run saved before the key existed still resumes
    assert what_results_depend_on(saved) == what_results_depend_on(load_config(None, TINY).to_dict())
