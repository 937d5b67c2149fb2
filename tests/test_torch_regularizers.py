"""PyTorch SPR and regularizers: equal to the numpy definitions, finite at zero, partitions exact."""

import numpy as np
import pytest
import torch
from torch import nn

from relaxations import spr_penalty_many, spr_prox_many
from spr_or import build_partition, create_model, make_regularizer, spr_penalty
from spr_or.spr_prox_torch import spr_prox_rows


def random_W(seed, rows=60, k=9):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(rows, k, generator=g, dtype=torch.float64) * torch.logspace(-3, 0.3, rows, dtype=torch.float64)[:, None]
    W[::6] = 0.0
    return W


@pytest.mark.parametrize("variant", ["exact", "paper", "paper_code"])
def test_values_and_gradients_equal_the_numpy_forms(variant):
    for seed, alpha in [(0, 1e-3), (1, 0.1), (2, 0.7)]:
        W = random_W(seed)
        M = 1.2 * float(W.abs().max())
        W.requires_grad_(True)
        z = spr_penalty(W, alpha, M, variant=variant)
        ref = spr_penalty_many(W.detach().numpy(), alpha, M, variant=variant)
        assert np.allclose(z.detach().numpy(), ref, rtol=1e-10, atol=0)
        z.sum().backward()
        # gradient against central differences of the numpy form, on non-zero entities
        rows = torch.nonzero(W.detach().abs().sum(1) > 0).flatten()[:12]
        for i in rows.tolist():
            for j in (0, 4):
                h = 1e-7 * max(1e-3, abs(float(W.detach()[i, j])))
                Wp, Wm = W.detach().numpy().copy(), W.detach().numpy().copy()
                Wp[i, j] += h
                Wm[i, j] -= h
                fd = (spr_penalty_many(Wp[i:i + 1], alpha, M, variant=variant) - spr_penalty_many(Wm[i:i + 1], alpha, M, variant=variant)) / (2 * h)
                assert float(W.grad[i, j]) == pytest.approx(float(fd[0]), rel=1e-5, abs=1e-9)


def test_gradcheck_at_random_non_degenerate_points():
    g = torch.Generator().manual_seed(3)
    for alpha, scale in [(0.01, 0.05), (0.3, 0.2), (0.9, 1.0)]:
        W = (torch.randn(5, 4, generator=g, dtype=torch.float64) * scale + 0.01).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda X: spr_penalty(X, alpha, 3.0), (W,), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_zero_entities_give_zero_with_a_finite_gradient_also_under_autocast(dtype):
    W = torch.zeros(4, 9, requires_grad=True)
    for variant in ("exact", "paper", "paper_code"):
        z = spr_penalty(W, 0.1, 1.0, variant=variant)
        z.sum().backward()
        assert torch.all(z == 0) and torch.all(W.grad == 0)
        W.grad = None
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))
    with torch.no_grad():
        model[0].weight[:2] = 0.0
    reg = make_regularizer("spr", model, lam=1.0, alpha=0.1, M=1.0)
    with torch.autocast("cpu", dtype=dtype):
        value = reg()
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(model[0].weight.grad).all()
    assert torch.all(model[0].weight.grad[:2] == 0)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.bn = nn.BatchNorm2d(6)
        self.attn = nn.MultiheadAttention(8, 2)
        self.fc = nn.Linear(8, 5)


@pytest.mark.parametrize("kind", ["filters", "conv_inputs", "neurons", "linear_inputs", "heads"])
def test_every_element_belongs_to_exactly_one_entity(kind):
    model = Tiny()
    layers = build_partition(model, kind, tie_bias=True, tie_batchnorm=True)
    counts = {name: torch.zeros(p.numel(), dtype=torch.long) for name, p in model.named_parameters()}
    by_id = {id(p): name for name, p in model.named_parameters()}
    for layer in layers:
        for m in layer.members:
            counts[by_id[id(m.param)]].index_add_(0, m.index[m.index >= 0], torch.ones_like(m.index[m.index >= 0]))
            # the gathered matrix holds exactly the indexed elements
            assert torch.equal(m.values(), m.param.reshape(-1)[m.index])
    main = {"filters": "conv.weight", "conv_inputs": "conv.weight", "neurons": "fc.weight",
            "linear_inputs": "fc.weight", "heads": "attn.in_proj_weight"}[kind]
    assert torch.all(counts[main] == 1)
    assert all(int(c.max()) <= 1 for c in counts.values())


def test_user_partitions_and_bad_partitions():
    model = nn.Linear(4, 3)
    labels = torch.tensor([[0, 0, 1, 1], [2, 2, 1, 0], [2, 3, 3, 3]])
    layer = build_partition(model, {"weight": labels})[0]
    assert layer.sizes.tolist() == [3, 3, 3, 3]
    for i in range(4):
        values = layer.matrix()[i][: int(layer.sizes[i])]
        assert torch.equal(torch.sort(values).values, torch.sort(model.weight.detach()[labels == i]).values)
    with pytest.raises(ValueError, match="negative ids"):
        build_partition(model, {"weight": labels - 1})
    with pytest.raises(ValueError, match="unused"):
        build_partition(model, {"weight": labels * 2})
    with pytest.raises(ValueError, match="shape"):
        build_partition(model, {"weight": labels[:, :2]})
    with pytest.raises(ValueError, match="entities must be one of"):
        build_partition(model, "channels")


def test_regularizer_gradient_equals_autograd_of_per_entity_sum():
    torch.manual_seed(0)
    model = create_model("resnet20")
    reference = create_model("resnet20")
    for kind in ("spr", "bigm", "l1", "l2", "group_lasso"):  # the manual sum below spells each out
        model.zero_grad()
        reg = make_regularizer(kind, model, lam=0.7, alpha=0.05, M=reference)
        reg().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad()
        convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        total_size = sum(m.weight.numel() for _, m in convs)
        manual = 0.0
        for name, m in convs:
            W = m.weight.reshape(m.out_channels, -1)
            M = float(dict(reference.named_parameters())[f"{name}.weight"].detach().abs().max())
            terms = {"spr": lambda: spr_penalty(W, 0.05, M), "l1": lambda: W.abs().sum(1), "l2": lambda: (W * W).sum(1),
                     "group_lasso": lambda: W.norm(dim=1),
                     "bigm": lambda: 0.05 * (W * W).sum(1) + 0.95 * torch.clamp(W.abs().amax(1) / M, max=1)}[kind]()
            manual = manual + (W.shape[1] / total_size * terms).sum()
        (0.7 * manual).backward()
        for n, p in model.named_parameters():
            if n in grads:
                assert torch.allclose(grads[n], p.grad, rtol=1e-5, atol=1e-9), (kind, n)


def test_torch_prox_equals_numpy_prox():
    U = random_W(5).numpy()
    for tau, alpha, M in [(0.05, 0.1, 2.0), (0.5, 0.01, 1.0), (0.2, 0.8, 3.0)]:
        V_np, _ = spr_prox_many(U, tau, alpha, M)
        V_t = spr_prox_rows(torch.from_numpy(U), torch.tensor(tau), alpha, M).numpy()
        # where g' is flat near its root y is ill-conditioned, V less so: same zeros, V to 1e-6
        assert np.array_equal(V_t == 0, V_np == 0)
        assert np.allclose(V_t, V_np, rtol=1e-6, atol=1e-12)
        objective = lambda V: 0.5 * ((V - U) ** 2).sum(1) + tau * spr_penalty_many(np.clip(V, -M, M), alpha, M)
        assert np.allclose(objective(V_t), objective(V_np), rtol=1e-12, atol=1e-15)


def test_M_from_reference_floor_and_bad_arguments():
    model, reference = create_model("resnet20"), create_model("resnet20")
    with torch.no_grad():
        reference.layer1[0].conv1.weight.zero_()
    with pytest.warns(UserWarning, match="dead"):
        reg = make_regularizer("spr", model, lam=1.0, alpha=0.1, M=reference)
    assert reg.M["layer1.0.conv1"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="same architecture"):
        make_regularizer("spr", model, lam=1.0, alpha=0.1, M=create_model("resnet32").state_dict() | {
            "conv1.weight": torch.ones(16, 3, 5, 5)})
    with pytest.raises(ValueError, match="kind must be one of"):
        make_regularizer("l0", model, lam=1.0)
    with pytest.raises(ValueError, match="alpha"):
        make_regularizer("spr", model, lam=1.0, alpha=1.5, M=1.0)
    with pytest.raises(ValueError, match="M must be finite and > 0"):
        make_regularizer("spr", model, lam=1.0, alpha=0.1, M=-1.0)
    with pytest.raises(ValueError, match="lam"):
        make_regularizer("l1", model, lam=-1.0)
    with pytest.raises(ValueError, match="needs alpha"):
        make_regularizer("spr", model, lam=1.0)
    with pytest.raises(ValueError, match="no value for layers"):
        make_regularizer("spr", model, lam=1.0, alpha=0.1, M={"conv1": 1.0})


def test_registry_parameter_counts():
    counts = {name: sum(p.numel() for p in create_model(name).parameters()) for name in ("resnet20", "resnet56")}
    assert 0.26e6 < counts["resnet20"] < 0.28e6
    assert 0.84e6 < counts["resnet56"] < 0.86e6
    assert create_model("resnet18_cifar")(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert create_model("vgg16_bn_cifar", 100)(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
    with pytest.raises(ValueError, match="name must be one of"):
        create_model("resnet19")


def test_tied_batchnorm_is_penalised_but_not_boxed():
    """M bounds the conv weights; a BatchNorm scale of ~1 tied to a filter must not push every filter
    into the capped regime, and the prox must not clip it into [-M, M]."""
    model = create_model("resnet20")
    reg = make_regularizer("spr", model, lam=1.0, alpha=0.1, M=model, tie_batchnorm=True)
    layer = reg.layers[1]
    W = layer.matrix().detach().double()
    k = layer.main_width
    M = reg.M[layer.name]
    a, b2 = W[:, :k].abs().amax(1), (W * W).sum(1)
    # independent: z from a over the conv weights and b over the whole entity
    c = np.sqrt(0.1 / 0.9)
    lower, cb = (a / M).numpy(), c * np.sqrt(b2.numpy())
    z = np.where(cb <= lower, 0.1 * b2.numpy() / lower + 0.9 * lower,
                 np.where(cb >= 1, 0.1 * b2.numpy() + 0.9, 2 * np.sqrt(0.09) * np.sqrt(b2.numpy())))
    terms = reg.per_entity().detach().numpy()
    first = reg._stacks[[i for i, s in enumerate(reg._stacks) if 1 in s][0]]
    offset = sum(reg.layers[j].n_entities for s in reg._stacks[:reg._stacks.index(first)] for j in s)
    offset += sum(reg.layers[j].n_entities for j in first[:first.index(1)])
    assert np.allclose(terms[offset:offset + layer.n_entities], z, rtol=1e-5)
    assert not np.allclose(z, 0.1 * b2.numpy() + 0.9)  # not everything capped
    bn = model.layer1[0].bn1
    with torch.no_grad():
        bn.weight.fill_(1.0)
    reg.prox_(1e-4)
    assert float(bn.weight.detach().max()) > M  # BatchNorm scales are not clipped to the conv's box


def test_prox_on_channels_last_and_per_group_learning_rates():
    from spr_or.proximal import ProximalSPR

    model = create_model("resnet20").to(memory_format=torch.channels_last)
    reg = make_regularizer("spr", model, lam=10.0, alpha=0.1, M=1.0, weighting="none")
    convs = [p for n, p in model.named_parameters() if n.endswith("conv1.weight")]
    others = [p for n, p in model.named_parameters() if not n.endswith("conv1.weight")]
    opt = ProximalSPR(torch.optim.SGD([{"params": convs, "lr": 1.0}, {"params": others, "lr": 1e-9}]), reg)
    model(torch.randn(2, 3, 32, 32).to(memory_format=torch.channels_last)).sum().backward()
    opt.step()
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    zero_filters = (model.conv1.weight.detach().reshape(16, -1).abs().amax(1) == 0).float().mean()
    assert zero_filters == 1.0  # the big step prunes every filter of the lr-1 group exactly
    assert float(model.layer1[0].conv2.weight.detach().abs().amax()) > 0  # the tiny-lr group is barely touched


def test_subnormal_entities_have_finite_gradients_and_float64_is_exact():
    W = torch.zeros(2, 9)
    W[0, 0] = 1e-40
    W[1, :] = 0.3
    W.requires_grad_(True)
    for variant in ("exact", "paper", "paper_code"):
        spr_penalty(W, 0.1, 1.0, variant=variant).sum().backward()
        assert torch.isfinite(W.grad).all()
        W.grad = None
    model = create_model("resnet20").double()
    reg = make_regularizer("spr", model, lam=0.9, alpha=0.05, M=model)
    sizes = torch.cat([layer.sizes for layer in reg.layers]).double()
    manual = 0.0
    for layer, u in zip(reg.layers, [layer.sizes.double() for layer in reg.layers]):
        z = spr_penalty_many(layer.matrix().detach().numpy(), 0.05, reg.M[layer.name])
        manual += float((u.numpy() / float(sizes.sum()) * z).sum())
    assert float(reg().detach()) == pytest.approx(0.9 * manual, rel=1e-12)


def test_M_given_as_tensors_and_dict_keys_checked():
    model = create_model("resnet20")
    names = [layer.name for layer in build_partition(model)]
    reg = make_regularizer("spr", model, lam=1.0, alpha=0.1, M={n: torch.tensor(0.5) for n in names})
    assert set(reg.M.values()) == {0.5}
    assert make_regularizer("spr", model, lam=1.0, alpha=0.1, M=torch.tensor(0.5)).M["conv1"] == 0.5
    with pytest.raises(ValueError, match="does not have"):
        make_regularizer("spr", model, lam=1.0, alpha=0.1, M={**{n: 1.0 for n in names}, "conv_1": 1.0})
    with pytest.raises(ValueError, match="M must be finite and > 0"):
        spr_penalty(torch.ones(2, 3), 0.1, torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="integer entity ids"):
        build_partition(nn.Linear(2, 2), {"weight": torch.zeros(2, 2)})
    bare = nn.Conv2d(3, 4, 3)
    assert make_regularizer("spr", bare, lam=1.0, alpha=0.1, M=nn.Conv2d(3, 4, 3)).M["weight"] > 0
