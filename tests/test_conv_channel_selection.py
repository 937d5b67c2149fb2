"""The channel-selection problem of a convolution (mip_models/conv_channel_selection.py) against an
independent torch computation of the layer's output (F.conv1d / F.conv2d), and its exact row
reduction (QR) against the unreduced multi-output problem."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mip_models.conv_channel_selection import conv_channel_selection
from mip_models.multi_output import flatten, multi_output_problem
from mip_models.support_qp import mip_objective, solve_support_qp
from spr_core.errors import InvalidArgument
from spr_or.layer_calibration import unfold_patches

#: (convolution, input shape): 1-D and 2-D, stride, dilation, "same" padding
CONVS = [
    (lambda: nn.Conv1d(3, 4, 3, padding=1, bias=False), (6, 3, 10)),
    (lambda: nn.Conv1d(3, 4, 3, padding="same", dilation=2), (5, 3, 9)),
    (lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2, bias=False), (5, 3, 7, 7)),
    (lambda: nn.Conv2d(2, 3, (2, 3), padding=(1, 0)), (4, 2, 5, 6)),
]


def _layer(index: int):
    torch.manual_seed(index)
    make, shape = CONVS[index]
    conv = make().double()
    return conv, torch.randn(shape, dtype=torch.float64)


def _torch_error(conv, x, weight) -> float:
    """||conv(x; weight) - conv(x; conv.weight)||_F^2 / (samples x output positions), without the bias
    (it cancels), by torch's own convolution."""
    fn = F.conv1d if isinstance(conv, nn.Conv1d) else F.conv2d
    options = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
    with torch.no_grad():
        out = fn(x, conv.weight, **options)
        diff = fn(x, weight, **options) - out
    rows = out.shape[0] * int(np.prod(out.shape[2:]))
    return float((diff**2).sum()) / rows


@pytest.mark.parametrize("index", range(len(CONVS)))
def test_refit_loss_is_the_reconstruction_error_of_the_layer_output(index):
    conv, x = _layer(index)
    weight = conv.weight.detach()
    selection = conv_channel_selection(weight.numpy(), unfold_patches(conv, x).numpy(), form="refit", lam=0.1,
                                       alpha=0.3, max_features=10**6)
    assert selection.n_directions == weight.shape[0]  # every output direction kept: the reduction is exact
    assert selection.reconstruction_error(selection.trained) == pytest.approx(0.0, abs=1e-20)
    rng = np.random.default_rng(index)
    for _ in range(3):
        new = torch.as_tensor(rng.standard_normal(weight.shape))
        new[:, rng.integers(weight.shape[1])] = 0.0  # one input channel pruned
        w = flatten(new.reshape(weight.shape[0], -1).numpy().T @ selection.directions)
        assert selection.reconstruction_error(w) == pytest.approx(_torch_error(conv, x, new), rel=1e-9)
        zero = np.flatnonzero((new.reshape(new.shape[0], new.shape[1], -1) == 0).all(-1).all(0).numpy())
        assert np.all(selection.problem.group_norms(w)[1][zero] == 0)  # group c is input channel c


@pytest.mark.parametrize("index", range(len(CONVS)))
def test_scale_loss_is_the_reconstruction_error_of_the_scaled_layer(index):
    conv, x = _layer(index)
    weight = conv.weight.detach()
    selection = conv_channel_selection(weight.numpy(), unfold_patches(conv, x).numpy(), form="scale", lam=0.1,
                                       alpha=0.3)
    assert selection.reconstruction_error(selection.trained) == pytest.approx(0.0, abs=1e-12)
    beta = np.random.default_rng(index).uniform(-1, 2, size=weight.shape[1])
    beta[0] = 0.0
    scaled = weight * torch.as_tensor(beta).view(1, -1, *([1] * (weight.dim() - 2)))
    assert selection.reconstruction_error(beta) == pytest.approx(_torch_error(conv, x, scaled), rel=1e-9)


def test_row_reduction_keeps_objectives_up_to_the_constant():
    conv, x = _layer(2)
    patches = unfold_patches(conv, x).numpy()
    weight = conv.weight.detach().numpy()
    selection = conv_channel_selection(weight, patches, form="refit", lam=0.2, alpha=0.4, max_features=72)
    assert selection.n_directions == 2 and selection.problem.n_samples == 2 * 27 < patches.shape[0] * 2
    # the unreduced problem: every calibration row, the same target Y V_r and loss ||A B - T||^2 / N
    T = patches @ weight.reshape(weight.shape[0], -1).T @ selection.directions
    direct = multi_output_problem(patches, T, [c * 9 + np.arange(9) for c in range(3)], lam=0.2, alpha=0.4,
                                  M=selection.problem.M, divisor=patches.shape[0])
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = (rng.random(3) < 0.6).astype(float)
        w = rng.uniform(-1, 1, direct.n_features) * selection.problem.M * np.tile(np.repeat(y, 9), 2)
        assert selection.problem.objective(w, y) + selection.constant == pytest.approx(direct.objective(w, y), rel=1e-9)
    assert abs(selection.constant) < 1e-12  # the target lies in the range of the patches


def test_all_outputs_objective_matches_the_support_qp_when_every_direction_is_kept():
    conv, x = _layer(0)
    selection = conv_channel_selection(conv.weight.detach().numpy(), unfold_patches(conv, x).numpy(), form="refit",
                                       lam=0.05, alpha=0.5, M_factor=50.0, max_features=10**6)
    for support in ([True, False, True], [False, True, False], [True, True, True]):
        support = np.array(support)
        w, _ = solve_support_qp(selection.problem, support)
        assert np.abs(w).max() < selection.problem.M  # the box does not bind: both are the ridge fit
        value = mip_objective(selection.problem, w, support) + selection.constant
        assert selection.all_outputs_objective(support)[1] == pytest.approx(value, rel=1e-8)
    assert selection.all_outputs_objective(np.zeros(3, dtype=bool))[0] == pytest.approx(selection.energy)


def test_rows_are_subsampled_with_the_seed():
    conv, x = _layer(3)
    patches, weight = unfold_patches(conv, x).numpy(), conv.weight.detach().numpy()
    build = lambda seed: conv_channel_selection(weight, patches, lam=0.1, alpha=0.3, max_rows=30, seed=seed)  # noqa: E731
    first, again, other = build(0), build(0), build(1)
    assert first.n_rows == 30 and np.array_equal(first.problem.X, again.problem.X)
    assert not np.allclose(first.gram, other.gram)


def test_bad_input_names_the_argument():
    conv, x = _layer(0)
    patches, weight = unfold_patches(conv, x).numpy(), conv.weight.detach().numpy()
    with pytest.raises(InvalidArgument, match="form"):
        conv_channel_selection(weight, patches, form="prune", lam=0.1, alpha=0.3)
    with pytest.raises(InvalidArgument, match="patches must have 3 x 3 columns"):
        conv_channel_selection(weight, patches[:, :-1], lam=0.1, alpha=0.3)
    with pytest.raises(InvalidArgument, match="M_factor"):
        conv_channel_selection(weight, patches, lam=0.1, alpha=0.3, M_factor=0.5)
    with pytest.raises(InvalidArgument, match="zero on every calibration row"):
        conv_channel_selection(np.zeros_like(weight), patches, lam=0.1, alpha=0.3)
    with pytest.raises(InvalidArgument, match="grouped convolution"):
        unfold_patches(nn.Conv1d(4, 4, 3, groups=2), torch.zeros(1, 4, 5))


@pytest.mark.parametrize("form", ["refit", "scale"])
def test_refit_error_is_the_least_squares_refit_on_all_outputs_whatever_lam(form):
    """refit_error(S) = min_B ||A_S B - Y||_F^2 / N on every output (independent lstsq on the unfolded
    patches): the same for every lam and both forms (the ridge of all_outputs_objective is not)."""
    conv, x = _layer(2)
    patches, weight = unfold_patches(conv, x).numpy(), conv.weight.detach().numpy()
    Y = patches @ weight.reshape(weight.shape[0], -1).T
    support = np.array([True, False, True])
    cols = np.flatnonzero(np.repeat(support, 9))
    B = np.linalg.lstsq(patches[:, cols], Y, rcond=None)[0]
    expected = float(np.sum((patches[:, cols] @ B - Y) ** 2)) / patches.shape[0]
    for lam in (0.01, 3.0):
        selection = conv_channel_selection(weight, patches, form=form, lam=lam, alpha=0.3, max_features=40)
        assert selection.refit_error(support) == pytest.approx(expected, rel=1e-8)
        assert selection.refit_error(np.zeros(3, dtype=bool)) == pytest.approx(selection.energy)
        assert selection.refit_error(np.ones(3, dtype=bool)) == pytest.approx(0.0, abs=1e-9 * selection.energy)
    assert selection.all_outputs_objective(support)[0] > expected * 1.01  # lam = 3: the ridge shrinks the refit


def test_support_refuses_channels_outside_the_layer():
    conv, x = _layer(0)
    selection = conv_channel_selection(conv.weight.detach().numpy(), unfold_patches(conv, x).numpy(), lam=0.1,
                                       alpha=0.3)
    assert selection.support([0, 2]).tolist() == [True, False, True]
    for bad in ([-1], [3]):  # -1 once wrapped round to the last channel
        with pytest.raises(InvalidArgument, match=r"channels must be input channel indices in \[0, 3\)"):
            selection.support(bad)
