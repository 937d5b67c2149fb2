"""Training needs torch, torchvision, torch-pruning and small pure-Python packages only: on a GPU
machine without the OR solvers (cvxpy, HiGHS, Pyomo, SCIP), ``spr_or`` imports, ``spr-or prune``
runs and ``spr-or bench epoch`` runs. Checked in a fresh interpreter where importing a solver fails."""

import json
import subprocess
import sys

from tests.pipeline_helpers import STRONG, TINY

BLOCKED = ("cvxpy", "highspy", "pyomo", "pyscipopt", "clarabel", "mip_models", "relaxations")

PROGRAM = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked here: ' + name)
sys.meta_path.insert(0, Block())
from spr_or.cli import main
assert main(['prune', '--quiet', '--out', {out!r}, *{overrides!r}]) == 0
assert main(['bench', 'epoch', '--model', 'cnn_digits', '--dataset', 'digits', '--max-steps', '1', '--rounds', '1',
             '--workers', '0', '--out', {bench!r}]) == 0
print('loaded:', sorted(m for m in sys.modules if m.split('.')[0] in {blocked!r}))
"""


def test_prune_and_bench_run_without_the_solvers(tmp_path):
    out, bench = str(tmp_path / "run"), str(tmp_path / "bench.json")
    code = PROGRAM.format(blocked=BLOCKED, out=out, overrides=TINY + STRONG, bench=bench)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded: []" in done.stdout
    assert json.loads((tmp_path / "run" / "results.json").read_text())["filters_pruned"] > 0
    assert json.loads((tmp_path / "bench.json").read_text())["configurations"]
