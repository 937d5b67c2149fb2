"""Network slimming (Liu et al., ICCV 2017) as the regularizer kind ``bn_slimming`` and the score
``prune.score: bn_scale`` (spr_or/batchnorm_scales.py): the penalty is lam * sum |gamma| over the
BatchNorm scales of the entities' channels, its (sub)gradient lam * sign(gamma), unweighted; the
score ranks entities by |gamma|; a tiny pruning run with the kind finishes and compacts."""

import json

import pytest
import torch
import yaml
from torch import nn

from spr_or import build_partition, create_model, make_regularizer
from spr_or.batchnorm_scales import BN_SCALE_SCORE, BatchNormSlimming, NoBatchNormScales, bn_scale_scores
from spr_or.cli import main
from spr_or.dependency_groups import group_entities
from spr_or.output_layers import output_layers
from spr_or.pruning.masks import target_masks
from spr_or.regularizer_kinds import KINDS
from tests.pipeline_helpers import TINY

BATCHNORM = nn.modules.batchnorm._BatchNorm
EXAMPLES = {"cnn_digits": (1, 8, 8), "resnet1d_mnist1d": (1, 40)}


def _model(name, seed=0):
    """The model with BatchNorm scales of both signs, distinct magnitudes and a few exact zeros."""
    torch.manual_seed(seed)
    model = create_model(name)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BATCHNORM):
                m.weight.copy_(torch.randn_like(m.weight))
                m.weight[::7] = 0.0
    return model, torch.randn(4, *EXAMPLES[name])


def _scales(model, names=None):
    return {n: m.weight for n, m in model.named_modules() if isinstance(m, BATCHNORM) and (names is None or n in names)}


def test_the_kind_is_registered_as_a_gradient_hook():
    kind = KINDS["bn_slimming"]
    assert not kind.needs_M and not kind.has_prox("exact") and not kind.has_penalty
    assert kind.gradient_hook is BatchNormSlimming


@pytest.mark.parametrize("name", list(EXAMPLES))
@pytest.mark.parametrize("entities", ["groups", "filters"])
def test_penalty_is_lam_times_the_sum_of_the_batchnorm_scales(name, entities):
    """Every conv of both models is followed by a BatchNorm, and the output Linear has none: the
    penalty over every entity is lam * sum |gamma| of every BatchNorm module of the model."""
    model, x = _model(name)
    lam = 0.37
    reg = make_regularizer("bn_slimming", model, lam=lam, entities=entities, tie_bias=True, tie_batchnorm=True,
                           example_input=x)
    hook = BatchNormSlimming(model, x, [w for layer in reg.layers for w in layer.writer_modules], lam)
    expected = lam * sum(w.abs().sum() for w in _scales(model).values())
    torch.testing.assert_close(hook.penalty(), expected)
    with pytest.raises(ValueError, match="has no penalty"):
        reg()  # it acts on the gradients, as tp_group_norm


def test_penalty_covers_only_the_entities_batchnorm_channels():
    """With the entities of the residual blocks' first convolutions only, the penalty is over their
    BatchNorms only (not the stream's)."""
    model, x = _model("resnet1d_mnist1d")
    firsts = [n for n, m in model.named_modules() if n.endswith(".conv1")]
    hook = BatchNormSlimming(model, x, firsts, 2.0)
    norms = {n.replace("conv1", "bn1") for n in firsts}
    assert {norm.name for norm in hook.norms} == norms
    torch.testing.assert_close(hook.penalty(), 2.0 * sum(w.abs().sum() for w in _scales(model, norms).values()))


@pytest.mark.parametrize("entities", ["groups", "filters"])
def test_gradient_on_gamma_is_lam_sign_gamma_unweighted(entities):
    """after_backward adds lam * sign(gamma) (0 where gamma = 0) to the scales' gradients and leaves
    every other gradient alone, the same for weighting "size" and "none": Liu et al.'s penalty is
    unweighted (regularizer.weighting does not apply). It is the autograd gradient of penalty()."""
    lam = 0.05
    model, x = _model("resnet1d_mnist1d")
    deltas = []
    for weighting in ("size", "none"):
        reg = make_regularizer("bn_slimming", model, lam=lam, entities=entities, weighting=weighting, tie_bias=True,
                               tie_batchnorm=True, example_input=x)
        model.zero_grad()
        model(x).square().sum().backward()
        before = {n: p.grad.clone() for n, p in model.named_parameters()}
        reg.after_backward()
        delta = {n: p.grad - before[n] for n, p in model.named_parameters()}
        scales = {f"{n}.weight": w for n, w in _scales(model).items()}
        for n, d in delta.items():
            if n in scales:
                torch.testing.assert_close(d, lam * torch.sign(scales[n].detach()))
            else:
                assert torch.equal(d, torch.zeros_like(d)), n
        deltas.append(delta)
        hook = BatchNormSlimming(model, x, [w for layer in reg.layers for w in layer.writer_modules], lam)
        grads = torch.autograd.grad(hook.penalty(), list(scales.values()))
        for (n, _), g in zip(scales.items(), grads):
            torch.testing.assert_close(delta[n], g)
    for n in deltas[0]:
        assert torch.equal(deltas[0][n], deltas[1][n])
    reg = make_regularizer("bn_slimming", model, lam=0.0, entities=entities, example_input=x)
    before = {n: p.grad.clone() for n, p in model.named_parameters()}
    reg.after_backward()
    assert all(torch.equal(p.grad, before[n]) for n, p in model.named_parameters())


def test_score_is_the_batchnorm_scale_of_each_filter():
    model, x = _model("cnn_digits")
    layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True, example_input=x)
    scores = bn_scale_scores(layers, model)
    following = {"0": "1", "3": "4", "7": "8"}  # conv -> its BatchNorm in the Sequential
    assert set(scores) == set(following)
    for conv, norm in following.items():
        torch.testing.assert_close(scores[conv], dict(model.named_modules())[norm].weight.detach().abs())


def test_score_of_a_group_entity_is_the_mean_scale_of_its_channel_and_target_prunes_the_smallest():
    """Group entities of the ResNet: a block's inner channel has one BatchNorm, a residual-stream
    channel five (the stem's and every block's last); the score is their mean |gamma|, and the
    target rule prunes the entities of smallest score first."""
    model, x = _model("resnet1d_mnist1d")
    layers, _ = group_entities(model, x, ignored_layers=output_layers(model, x))
    scores = bn_scale_scores(layers, model)
    modules = dict(model.named_modules())
    for layer in layers:  # every writer convolution of the model is followed by its BatchNorm
        gammas = torch.stack([modules[w.replace("conv", "bn")].weight.detach().abs() for w in layer.writer_modules])
        torch.testing.assert_close(scores[layer.name], gammas.mean(0))
    assert sorted(len(layer.writer_modules) for layer in layers) == [1, 1, 1, 1, 5]  # four blocks, one stream
    masks = target_masks(layers, scores, 0.3)
    pruned = torch.cat([scores[layer.name][masks[layer.name]] for layer in layers])
    kept = torch.cat([scores[layer.name][~masks[layer.name]] for layer in layers])
    assert 0 < len(pruned) < len(pruned) + len(kept)
    assert float(pruned.max()) <= float(kept.min())


def test_a_model_without_batchnorm_is_a_clear_error():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10))
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(NoBatchNormScales, match="no affine BatchNorm"):
        make_regularizer("bn_slimming", model, lam=1.0, entities="filters", example_input=x)
    layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True, example_input=x)
    with pytest.raises(NoBatchNormScales, match=BN_SCALE_SCORE):
        bn_scale_scores(layers, model)
    with pytest.raises(ValueError, match="needs example_input"):
        make_regularizer("bn_slimming", model, lam=1.0)


ONE_EPOCH = ["reference.epochs=1", "train.epochs=1", "finetune.epochs=1"]
SLIMMING = ["regularizer.kind=bn_slimming", "regularizer.proximal=false", "regularizer.lam=0.05",
            "prune.rule=target", "prune.target=0.5", f"prune.score={BN_SCALE_SCORE}"]


@pytest.fixture(scope="module", params=["groups", "filters"])
def slimming_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"slimming_{request.param}") / "run"
    assert main(["prune", "--quiet", "--out", str(out), *TINY, *ONE_EPOCH, *SLIMMING,
                 f"regularizer.entities={request.param}"]) == 0
    return out


def test_a_tiny_pruning_run_with_network_slimming_finishes_and_compacts(slimming_run):
    results = json.loads((slimming_run / "results.json").read_text())
    assert results["regularizer"] == "bn_slimming"
    assert results["filters_pruned"] > 0
    assert results["conv_params_after_compaction"] < results["conv_params_total"]
    assert results["max_abs_output_diff"] <= 1e-3
    assert (slimming_run / "compact_model.pt2").is_file()


def test_the_pipeline_prunes_the_entities_of_smallest_scale(slimming_run):
    """The channels the run pruned (zero BatchNorm scale in masked_model.pt) are those target_masks
    picks from bn_scale_scores of the phase-1 model."""
    config = yaml.safe_load((slimming_run / "config.yaml").read_text())
    model = create_model(config["model"])
    model.load_state_dict(torch.load(slimming_run / "regularized_model.pt", weights_only=True))
    x = torch.zeros(1, *EXAMPLES[config["model"]])
    left_out = output_layers(model, x)
    if config["regularizer"]["entities"] == "groups":
        layers, _ = group_entities(model, x, ignored_layers=left_out)
    else:
        layers = build_partition(model, "filters", tie_bias=True, tie_batchnorm=True, ignored_layers=left_out)
    expected = target_masks(layers, bn_scale_scores(layers, model), config["prune"]["target"])
    masked = torch.load(slimming_run / "masked_model.pt", weights_only=True)
    norms = {n: m for n, m in model.named_modules() if isinstance(m, BATCHNORM)}
    for layer in layers:
        member = next(m for m in layer.members if any(m.param is norm.weight for norm in norms.values()))
        name = next(n for n, norm in norms.items() if norm.weight is member.param)
        actual = masked[f"{name}.weight"][member.index[:, 0]] == 0
        assert torch.equal(actual, expected[layer.name]), layer.name
