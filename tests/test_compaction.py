"""Compaction of every registry model: random weights, random pruned filters (zeroed with their
BatchNorm), Torch-Pruning removal; the compact model must compute what the masked model computes."""

import pytest
import torch

from spr_or.entities import build_partition
from spr_or.models.registry import INPUT_SHAPES, MODELS, create_model
from spr_or.pruning.accounting import count_flops, count_parameters
from spr_or.pruning.compaction import compact_model, export_model, max_output_difference
from spr_or.pruning.masks import apply_masks_

SMALLER_INPUT = {"resnet18_imagenet": (3, 64, 64)}


def _randomly_pruned(name, seed, fraction=0.4):
    torch.manual_seed(seed)
    model = create_model(name).eval()
    for module in model.modules():  # non-trivial BatchNorm statistics, so zeroed channels matter
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.5, 0.5)
    layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True)
    masks = {layer.name: torch.rand(layer.n_entities) < fraction for layer in layers}
    apply_masks_(layers, masks)
    return model, masks


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compact_model_equals_masked_model(name):
    model, masks = _randomly_pruned(name, seed=sorted(MODELS).index(name))
    shape = SMALLER_INPUT.get(name, INPUT_SHAPES[name])
    x = torch.randn(3, *shape)
    compact, report = compact_model(model, masks, x[:1])
    with torch.no_grad():
        scale = float(model(x).abs().max())
    assert max_output_difference(model, compact, [x]) <= 1e-4 * max(1.0, scale)
    assert count_parameters(compact) < count_parameters(model)
    assert count_flops(compact, x) < count_flops(model, x)
    assert report.removed, "nothing was removed"
    # only pruned channels are removed
    for layer, channels in report.removed.items():
        assert all(bool(masks[layer][c]) for c in channels), layer


def test_option_a_resnet_keeps_the_residual_stream():
    model, masks = _randomly_pruned("resnet20", seed=3)
    compact, report = compact_model(model, masks, torch.randn(1, 3, 32, 32))
    assert set(report.removed) == {n for n in masks if n.endswith(".conv1") and n != "conv1"}
    assert any("option-A" in why for why in report.kept.values())
    assert compact.conv1.out_channels == 16 and compact.layer3[2].conv2.out_channels == 64


def test_residual_group_removed_where_every_producer_is_pruned():
    model, masks = _randomly_pruned("resnet1d_mnist1d", seed=5, fraction=0.0)
    stream = ["conv1"] + [f"stage{s}.{b}.conv2" for s in (1, 2) for b in (0, 1)]
    for name in stream:
        masks[name][:6] = True
    masks["stage1.0.conv2"][6] = True  # pruned in one producer only: must stay
    layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True)
    apply_masks_(layers, masks)
    x = torch.randn(4, 1, 40)
    compact, report = compact_model(model, masks, x[:1])
    assert compact.conv1.out_channels == 58 and compact.fc.in_features == 58
    assert any("another layer" in why for why in report.kept.values())
    assert max_output_difference(model, compact, [x]) <= 1e-5


def test_export_round_trip_with_any_batch_size(tmp_path):
    model, masks = _randomly_pruned("resnet20", seed=7)
    compact, _ = compact_model(model, masks, torch.randn(1, 3, 32, 32))
    path = export_model(compact, torch.randn(1, 3, 32, 32), tmp_path / "m.pt2")
    loaded = torch.export.load(path).module()
    for batch in (1, 5):
        x = torch.randn(batch, 3, 32, 32)
        assert torch.allclose(loaded(x), compact.eval()(x), atol=1e-5)


def test_mask_keeper_zeroes_what_apply_masks_zeroes():
    from spr_or.pruning.masks import mask_keeper

    model, masks = _randomly_pruned("resnet20", seed=3)
    twin = create_model("resnet20")
    with torch.no_grad():  # weights moved off zero, as an optimizer step would
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    twin.load_state_dict(model.state_dict())
    layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True)
    twin_layers = build_partition(twin, "filters", tie_bias=True, tie_batchnorm=True)
    apply_masks_(layers, masks)
    mask_keeper(twin_layers, masks)()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), twin.state_dict().values()))
    assert any(bool(m.any()) for m in masks.values())
