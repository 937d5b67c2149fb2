"""The model zoo of issue 13: the SPR on dependency groups (``entities="groups"``) on torchvision's
classification models and the registry's, end to end (SPR, exact prox steps, half of every layer's
entities pruned, compaction, output check, export), and the table of docs/pruning.md.

    .venv/bin/python benchmarks/model_zoo.py [--models resnet18 ...] [--out docs/model_zoo.json]

Prints one markdown row per model: parameters before / after, the share of the parameters inside
entities (what the SPR can remove), entities, the removal per group type, the groups left out and
why; tests/test_model_zoo.py asserts the properties on the same runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from collections import Counter

import torch
import torchvision
from torch import nn

from spr_or.dependency_groups import GraphNotTraceable, group_entities
from spr_or.models.registry import INPUT_SHAPES, MODELS, create_model
from spr_or.output_layers import output_layers
from spr_or.pruning.compaction import export_model
from spr_or.pruning.group_compaction import compact_groups
from spr_or.pruning.masks import apply_masks_
from spr_or.regularizers import make_regularizer

TORCHVISION = ("resnet18", "resnet50", "resnext50_32x4d", "regnet_x_400mf", "mobilenet_v2", "mobilenet_v3_small",
               "efficientnet_b0", "mnasnet0_5", "densenet121", "vgg11_bn", "squeezenet1_0", "shufflenet_v2_x0_5",
               "googlenet", "convnext_tiny", "vit_small", "swin_t")


def zoo_model(name: str):
    """(model, example input): a torchvision model (10 classes, small input) or a registry model."""
    torch.manual_seed(0)
    if name in MODELS:
        shape = (3, 64, 64) if name == "resnet18_imagenet" else INPUT_SHAPES[name]
        return create_model(name, 10), torch.randn(2, *shape)
    if name == "vit_small":
        model = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                     hidden_dim=32, mlp_dim=64, num_classes=10)
        return model, torch.randn(2, 3, 32, 32)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    size = 32 if name == "swin_t" else 64
    return getattr(torchvision.models, name)(num_classes=10, **kwargs), torch.randn(2, 3, size, size)


@torch.no_grad()
def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random running statistics and affine parameters for every norm, random Linear weights where a
    model zero-initialises them (ViT's head), so the outputs are of order 1."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)) and m.weight is not None:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        if isinstance(m, nn.Linear) and bool((m.weight == 0).all()):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
    return model.eval()


def prune_half(layers) -> dict:
    """Per layer, the entities of smallest norm (at least half, at most all but one) and every entity
    the prox zeroed."""
    masks = {}
    for layer in layers:
        norms = layer.matrix().detach().norm(dim=1)
        order = torch.argsort(norms)
        pruned = torch.zeros(layer.n_entities, dtype=torch.bool)
        pruned[order[:max(layer.n_entities // 2, 1)]] = True
        pruned |= norms == 0
        if bool(pruned.all()):
            pruned[order[-1]] = False
        masks[layer.name] = pruned
    return masks


def layer_widths(model: nn.Module) -> dict:
    """{module: output channels} of every convolution and Linear layer, {module: heads} of every
    attention layer (nn.MultiheadAttention, or the HeadPrunedAttention that replaced it)."""
    widths = {n: getattr(m, "out_channels", getattr(m, "out_features", None)) for n, m in model.named_modules()
              if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))}
    widths.update({n: m.num_heads for n, m in model.named_modules() if isinstance(getattr(m, "num_heads", None), int)
                   and hasattr(m, "out_proj")})
    return widths


def end_to_end(model: nn.Module, x: torch.Tensor, folder) -> dict:
    """SPR on groups, 3 exact prox steps on a copy (some entities become exact zeros), half of every layer's entities pruned, compaction (exact or
    refused), export to ``folder``/compact.pt2 and a run of it in a Python without spr_or.
    Returns what the test checks and the table shows."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _end_to_end(model, x, folder)
    finally:
        torch.set_num_threads(threads)


def _end_to_end(model: nn.Module, x: torch.Tensor, folder) -> dict:
    model = randomize(model)
    # the SPR's exact prox on the group entities of a copy (unweighted, so that its threshold is of
    # the order of an entity's norm in every model): it must give exact zeros
    twin = copy.deepcopy(model)
    prox = make_regularizer("spr", twin, lam=1.0, alpha=0.3, M=model, entities="groups", weighting="none",
                            example_input=x)
    for _ in range(3):
        prox.prox_(1.0)
    prox_zeros = sum(int((layer.matrix().detach() == 0).all(1).sum()) for layer in prox.layers)
    # the original is pruned by magnitude (prox steps this large would silence whole models)
    layers = make_regularizer("spr", model, lam=1.0, alpha=0.3, M=model, entities="groups", example_input=x).layers
    masks = prune_half(layers)
    apply_masks_(layers, masks)
    with torch.no_grad():
        expected = model(x)
    params_before = sum(p.numel() for p in model.parameters())
    widths_before = layer_widths(model)
    compact, report = compact_groups(model, layers, masks, x)
    with torch.no_grad():
        got = compact(x)
    removed_channels: Counter = Counter()
    removed_elements = 0
    by_type: Counter = Counter()
    for layer in layers:
        sizes = layer.sizes.tolist()
        for i in report.removed.get(layer.name, []):
            removed_channels.update(root for root, _ in layer.removal[i])
            removed_elements += sizes[i]
            by_type[layer.group_type] += 1
    path = folder / "compact.pt2"
    export_model(compact, x, path)
    torch.save((x, got), folder / "xy.pt")
    code = ("import sys; sys.modules['spr_or'] = None\n"
            "import torch\n"
            f"m = torch.export.load({str(path)!r}).module()\n"
            f"x, y = torch.load({str(folder / 'xy.pt')!r})\n"
            "print(float((m(x) - y).abs().max()))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return {"expected": expected, "got": got, "report": report, "layers": layers, "masks": masks,
            "prox_zeros": prox_zeros,
            "params_before": params_before, "params_after": sum(p.numel() for p in compact.parameters()),
            "widths_before": widths_before, "widths_after": layer_widths(compact),
            "removed_channels": dict(removed_channels), "removed_elements": removed_elements,
            "entity_params": int(sum(int(layer.sizes.sum()) for layer in layers)),
            "entities": sum(layer.n_entities for layer in layers),
            "removed_by_type": dict(by_type),
            "export_returncode": run.returncode, "export_stderr": run.stderr[-2000:],
            "export_difference": float(run.stdout.strip() or "nan") if run.returncode == 0 else None}


def table_row(name: str, result: dict) -> str:
    """One markdown row of docs/pruning.md's model-zoo table."""
    reasons = Counter(e.reason.split(" '")[0] for e in result["excluded"])
    left_out = "; ".join(f"{n} group(s): {why}" for why, n in reasons.items()) or "nothing"
    kept = "; ".join(sorted(set(result["report"].kept.values()))) or ""
    types = ", ".join(f"{t} {n}" for t, n in sorted(result["removed_by_type"].items()))
    return (f"| {name} | {result['params_before']:,} | {result['params_after']:,} | "
            f"{100 * result['entity_params'] / result['params_before']:.0f}% | {result['entities']:,} | {types} | "
            f"{left_out}{'; kept: ' + kept if kept else ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(TORCHVISION) + sorted(MODELS))
    args = parser.parse_args()
    import tempfile
    from pathlib import Path
    print("| model | parameters | after | in entities | entities | removed (per group type) | left out / kept |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        model, x = zoo_model(name)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                _, result_excluded = group_entities(model, x, ignored_layers=output_layers(model, x))
                result = end_to_end(model, x, Path(folder))
                result["excluded"] = result_excluded
            except GraphNotTraceable as error:
                print(f"| {name} | {sum(p.numel() for p in model.parameters()):,} | - | - | - | - | "
                      f"not traceable: {str(error).split(': ', 2)[-1][:90]} |")
                continue
        print(table_row(name, result), f"<!-- {time.perf_counter() - start:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
