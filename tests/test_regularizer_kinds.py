"""Regularizer kinds are registered objects: the pipeline, the config and make_regularizer ask the
object (needs M, prox, penalty, gradient hook), and a kind registered once is accepted everywhere."""

import pytest
import torch

from spr_or import KINDS, RegularizerKind, create_model, make_regularizer, register_kind
from spr_or.pruning import ConfigError, load_config
from spr_or.regularizer_kinds import get_kind


def test_every_kind_answers_the_pipelines_questions():
    assert {"spr", "bigm", "l1", "l2", "group_lasso", "tp_group_norm"} <= set(KINDS)
    assert [k for k in KINDS if KINDS[k].needs_M] == ["spr", "bigm"]
    assert [k for k in KINDS if KINDS[k].has_prox("exact")] == ["spr"]
    assert not KINDS["spr"].has_prox("paper")
    assert [k for k in KINDS if not KINDS[k].has_penalty] == ["tp_group_norm", "bn_slimming"]
    with pytest.raises(ValueError, match="kind must be one of"):
        get_kind("l0")


def test_tp_group_norm_shrinks_each_filters_gradient_along_its_weights():
    """GroupNormPruner's regularize adds reg * gamma_c * w to the gradient of channel c (gamma_c >= 0):
    per filter the change of the gradient is a non-negative multiple of the filter, and with lam = 0
    nothing changes."""
    torch.manual_seed(0)
    model, x = create_model("cnn_digits"), torch.randn(4, 1, 8, 8)
    for lam, moves in ((0.0, False), (1e-2, True)):
        reg = make_regularizer("tp_group_norm", model, lam=lam, example_input=x)
        with pytest.raises(ValueError, match="has no penalty"):
            reg()
        model.zero_grad()
        model(x).square().sum().backward()
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        before = conv.weight.grad.clone()
        reg.after_backward()
        delta = (conv.weight.grad - before).flatten(1)
        w = conv.weight.detach().flatten(1)
        if not moves:
            assert torch.equal(delta, torch.zeros_like(delta))
            continue
        coefficient = (delta * w).sum(1) / (w * w).sum(1)
        assert bool((coefficient >= 0).all()) and bool((coefficient > 0).any())
        torch.testing.assert_close(delta, coefficient[:, None] * w, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="needs example_input"):
        make_regularizer("tp_group_norm", model, lam=1.0)


def test_a_registered_kind_is_accepted_by_make_regularizer_and_the_config():
    name = "l1_squared_for_test"
    kind = register_kind(RegularizerKind(name, "(||w_i||_1)^2", lambda norms, alpha, M, variant: norms.l1 ** 2))
    try:
        model = create_model("cnn_digits")
        reg = make_regularizer(name, model, lam=1.0, weighting="none")
        expected = sum(layer.matrix().abs().sum(1).square().sum() for layer in reg.layers)
        torch.testing.assert_close(reg(), expected)
        assert reg.kind is kind and reg.after_backward is None
        config = load_config(None, [f"regularizer.kind={name}", "regularizer.proximal=false"])
        assert config.regularizer.kind == name
        with pytest.raises(ConfigError, match="regularizer.proximal"):
            load_config(None, [f"regularizer.kind={name}"])  # no exact prox: the kind says so
        with pytest.raises(ValueError, match="registered already"):
            register_kind(kind)
    finally:
        del KINDS[name]
    with pytest.raises(ConfigError, match="regularizer.kind must be one of"):
        load_config(None, [f"regularizer.kind={name}", "regularizer.proximal=false"])
