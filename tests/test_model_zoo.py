"""The SPR on dependency groups (``entities="groups"``) end to end on torchvision's classification
models and every registry model (issue 13, item 4; the runs are benchmarks/model_zoo.py's, which
also prints docs/pruning.md's table): build the SPR, take exact prox steps, prune half of every
layer's entities, compact, and check that

- the compact model computes what the masked model computes (max abs difference <= 1e-4 of the
  output scale; norms are given random statistics first so the outputs are of order 1);
- every root layer lost exactly the channels of its removed entities, the parameter count fell by at
  least those entities' elements, and nothing pruned was kept but a layer's last channel;
- the exported compact model loads and runs, with the same outputs, in a Python without spr_or.

Small inputs, one thread; the large models are ``slow`` (a representative set runs in CI: depthwise
convolutions with squeeze-excitation, grouped convolutions, concatenations with BatchNorm after them,
a transformer's MLP and attention heads, an option-A ResNet; the convolutional classifier of
SqueezeNet is in the slow set and in tests/test_output_layers.py).
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from benchmarks.model_zoo import end_to_end, randomize, zoo_model
from spr_or.dependency_groups import GraphNotTraceable
from spr_or.models.registry import MODELS, create_model
from spr_or.pruning.group_compaction import RELATIVE_TOLERANCE, compact_groups
from spr_or.pruning.masks import apply_masks_
from spr_or.regularizers import make_regularizer

slow = pytest.mark.slow

TORCHVISION_FAST = ("mobilenet_v3_small", "regnet_x_400mf", "densenet121", "vit_small")
TORCHVISION = [name if name in TORCHVISION_FAST else pytest.param(name, marks=slow)
               for name in ("resnet18", "resnet50", "resnext50_32x4d", "regnet_x_400mf", "mobilenet_v2",
                            "mobilenet_v3_small", "efficientnet_b0", "mnasnet0_5", "densenet121", "vgg11_bn",
                            "squeezenet1_0", "googlenet", "convnext_tiny", "vit_small", "swin_t")]
REGISTRY_FAST = ("resnet20", "cnn_digits")
REGISTRY = [name if name in REGISTRY_FAST else pytest.param(name, marks=slow) for name in sorted(MODELS)]


@pytest.mark.parametrize("name", TORCHVISION + REGISTRY)
def test_model_end_to_end(name, tmp_path):
    model, x = zoo_model(name)
    result = end_to_end(model, x, tmp_path)
    expected, got = result["expected"], result["got"]
    scale = float(expected.abs().max())
    assert scale > 1e-3
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= RELATIVE_TOLERANCE * scale
    assert result["prox_zeros"] > 0  # the SPR's exact prox on group entities gives exact zeros
    report = result["report"]
    for layer in result["layers"]:  # every pruned entity removed, but where a root kept its last channel
        pruned, removed = int(result["masks"][layer.name].sum()), len(report.removed.get(layer.name, []))
        if layer.name in report.kept:
            roots = {root for nodes in layer.removal for root, _ in nodes}
            assert 0 < pruned - removed <= len(roots), layer.name
        else:
            assert removed == pruned, layer.name
    for root, count in result["removed_channels"].items():
        assert result["widths_after"][root] == result["widths_before"][root] - count, root
    assert result["removed_elements"] > 0
    assert result["params_after"] <= result["params_before"] - result["removed_elements"]
    assert result["export_returncode"] == 0, result["export_stderr"]
    assert result["export_difference"] <= 1e-5 * float(got.abs().max())

def test_option_a_resnet_stream_is_removed(tmp_path):
    """ResNet-20's residual stream (stem and every block's second convolution, coupled across the
    stages by the zero-padded shortcut) is one set of entities, and its pruned channels are removed:
    the stem loses channels, and so do the stage-2/3 streams, the shortcut padding shrinking."""
    model = randomize(create_model("resnet20", 10))
    x = torch.randn(2, 3, 32, 32)
    reg = make_regularizer("l2", model, lam=1.0, entities="groups", example_input=x)
    stream = next(layer for layer in reg.layers if layer.group_type == "padded residual stream")
    assert stream.n_entities == 64  # 16 + 16 + 32 stream channels, chained through the paddings
    chains = sorted(len(nodes) for nodes in stream.removal)
    assert chains == [1] * 32 + [2] * 16 + [3] * 16
    masks = {layer.name: torch.zeros(layer.n_entities, dtype=torch.bool) for layer in reg.layers}
    masks[stream.name][::2] = True  # half of each kind of chain
    apply_masks_(reg.layers, masks)
    compact, report = compact_groups(model, reg.layers, masks, x)
    assert not report.kept
    assert compact.conv1.out_channels == 8
    assert compact.layer2[0].conv2.out_channels == 16 and compact.layer3[0].conv2.out_channels == 32
    shortcut = compact.layer2[0].shortcut
    assert shortcut.pad_before + shortcut.pad_after + compact.conv1.out_channels == compact.layer2[0].conv2.out_channels
    with torch.no_grad():
        assert float((compact(x) - model(x)).abs().max()) <= RELATIVE_TOLERANCE * float(model(x).abs().max())


def test_shufflenet_gets_a_clear_error():
    """Torch-Pruning cannot trace ShuffleNet's channel shuffle: the error names the model and the
    ways out, instead of a traceback from inside the tracer."""
    model = torchvision.models.shufflenet_v2_x0_5(num_classes=10)
    with pytest.raises(GraphNotTraceable, match="ShuffleNetV2.*ignored_layers.*entities='filters'"):
        make_regularizer("l2", model, lam=1.0, entities="groups", example_input=torch.randn(2, 3, 64, 64))


def test_groups_need_an_example_and_known_ignored_layers():
    model = create_model("cnn_digits", 10)
    with pytest.raises(ValueError, match="example_input"):
        make_regularizer("l2", model, lam=1.0, entities="groups")
    with pytest.raises(ValueError, match="ignored_layers.*nope"):
        make_regularizer("l2", model, lam=1.0, entities="groups", ignored_layers=["nope"],
                         example_input=torch.randn(2, 1, 8, 8))


def test_group_entities_are_a_partition_with_M_per_group():
    """Disjoint entities (check_disjoint runs in build_partition), M per group from the reference =
    max |w| over the group's writers' weights, and the output layer in no entity."""
    model = randomize(create_model("resnet1d_mnist1d", 10))
    x = torch.randn(2, 1, 40)
    reg = make_regularizer("spr", model, lam=1.0, alpha=0.3, M=model, entities="groups", example_input=x)
    params = dict(model.named_parameters())
    for layer in reg.layers:
        writers = [m.name for m in layer.members[:layer.n_boxed]]
        assert reg.M[layer.name] == pytest.approx(max(float(params[w].detach().abs().max()) for w in writers))
        assert all(not m.name.startswith("fc.") for m in layer.members)
    stream = next(layer for layer in reg.layers if layer.group_type == "residual stream")
    assert {"conv1.weight", "stage1.0.conv2.weight", "stage2.1.conv2.weight"} <= {m.name for m in stream.members}


def test_compaction_refuses_rather_than_change_the_outputs():
    """A BatchNorm without affine parameters outputs -mean/std on a zeroed channel, so removing the
    channel would change the outputs: compaction refuses, naming the group, and returns nothing."""
    from spr_or.pruning.group_compaction import CompactionNotExact

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8, affine=False), nn.ReLU(), nn.Conv2d(8, 4, 3),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    model = randomize(model)
    with torch.no_grad():
        model[1].running_mean.fill_(-1.0)  # a zeroed channel leaves the BatchNorm at +1/std
    x = torch.randn(2, 3, 8, 8)
    reg = make_regularizer("l2", model, lam=1.0, entities="groups", example_input=x)
    masks = {layer.name: torch.zeros(layer.n_entities, dtype=torch.bool) for layer in reg.layers}
    masks["0"][:3] = True
    apply_masks_(reg.layers, masks)
    with pytest.raises(CompactionNotExact, match="removing the pruned channels of 0 .*changes the model's outputs"):
        compact_groups(model, reg.layers, masks, x)


@pytest.mark.parametrize("batch_first", [True, False])
def test_head_pruned_attention_equals_the_masked_multihead_attention(batch_first):
    """Heads whose q/k/v rows are zero contribute nothing; HeadPrunedAttention without them computes
    the same self-attention (independent computation: nn.MultiheadAttention itself)."""
    from spr_or.pruning.attention_heads import HeadPrunedAttention

    torch.manual_seed(0)
    attention = nn.MultiheadAttention(24, 4, batch_first=batch_first).eval()
    with torch.no_grad():
        attention.in_proj_bias.normal_()
        for part in range(3):
            for h in (1, 3):
                attention.in_proj_weight[part * 24 + h * 6: part * 24 + (h + 1) * 6] = 0
                attention.in_proj_bias[part * 24 + h * 6: part * 24 + (h + 1) * 6] = 0
    x = torch.randn(5, 7, 24)
    pruned = HeadPrunedAttention(attention, keep=[0, 2]).eval()
    with torch.no_grad():
        expected, _ = attention(x, x, x, need_weights=False)
        got, _ = pruned(x, x, x, need_weights=False)
    assert pruned.num_heads == 2 and pruned.out_proj.in_features == 12
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("ignored", [["conv1"], ["layer2.0.conv2"]])
def test_option_a_stream_with_an_ignored_writer_is_left_out_whole(ignored):
    """Ignoring one writer of ResNet-20's padded stream leaves the whole stream out (its stages are
    coupled through the paddings), and compaction of the rest stays exact."""
    from spr_or.dependency_groups import group_entities

    model = randomize(create_model("resnet20", 10))
    x = torch.randn(2, 3, 32, 32)
    layers, left_out = group_entities(model, x, ignored_layers=ignored + ["fc"])
    assert not any(layer.group_type == "padded residual stream" for layer in layers)
    assert any("channel padding" in group.reason for group in left_out)
    masks = {layer.name: torch.arange(layer.n_entities) % 2 == 0 for layer in layers}
    apply_masks_(layers, masks)
    compact, report = compact_groups(model, layers, masks, x)
    with torch.no_grad():
        assert float((compact(x) - model(x)).abs().max()) <= RELATIVE_TOLERANCE * float(model(x).abs().max())
