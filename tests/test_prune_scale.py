"""The pipeline's scale paths on the CPU: two processes through torchrun (gloo, DDP), bf16 autocast
with channels_last, and the other regularizers and pruning rules."""

import json
import subprocess
import sys

import pytest

from spr_or.pruning import load_config, run_pruning
from tests.pipeline_helpers import STRONG, TINY


def test_ddp_two_processes_on_cpu(tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "spr_or.cli", "prune", "--quiet", "--out", str(out), *TINY, *STRONG,
               "reference.epochs=4"]  # 5 steps an epoch (the validation split is held out): 20 dense steps
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["ranks_in_sync"] is True
    assert results["max_abs_output_diff"] <= 1e-4 and results["dense_accuracy"] > 50
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # each rank sees half of the 1,221 training digits left by the validation split (216 of 1,437):
    # ceil(611 / 128) = 5 steps per epoch; the validation split is evaluated by both ranks together
    assert rows[0]["steps"] == 5
    assert results["split"]["train"] == 1221 and results["split"]["validation"] == 216
    assert all(0 <= r["validation_accuracy"] <= 100 for r in rows)


def test_bf16_channels_last_run(tmp_path):
    results = run_pruning(load_config(None, TINY + STRONG + ["runtime.bf16=true", "runtime.channels_last=true"]),
                          tmp_path, show_progress=False)
    assert results["filters_pruned"] > 0 and results["max_abs_output_diff"] <= 1e-4
    assert results["final_accuracy"] > 30  # well above chance (10%) after a few epochs


@pytest.mark.parametrize("extra", [
    ["regularizer.kind=group_lasso", "regularizer.proximal=false", "regularizer.lam=5", "prune.tol=1e-2"],
    ["regularizer.variant=paper", "regularizer.proximal=false", "regularizer.tie_batchnorm=false"],
    ["prune.rule=exact_zeros", "regularizer.entities=filters", "regularizer.scope=removable", "start_from=scratch"],
    # a kind with no penalty (a hook on the gradients), ranked by Torch-Pruning's group importance
    ["regularizer.kind=tp_group_norm", "regularizer.proximal=false", "regularizer.lam=0.01", "prune.rule=target",
     "prune.score=tp_group"],
])
def test_other_regularizers_and_rules_run(tmp_path, extra):
    results = run_pruning(load_config(None, TINY + STRONG + extra), tmp_path, show_progress=False)
    assert results["max_abs_output_diff"] <= 1e-4
    assert results["params_after_compaction"] <= results["params_total"]
