"""The layers of docs/architecture.md hold: every import points down (or within its layer), the
module-level imports have no cycle, no module outside the commands hides an import of the project
in a function, and ``spr_or`` imports with torch, torchvision and torch-pruning alone."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("spr_core", "relaxations", "mip_models", "spr_or")

#: (module prefix, layer), most specific first: a module belongs to the first prefix it starts with
LAYERS = [
    ("spr_core", 0),
    ("relaxations", 1),
    ("mip_models", 2),
    ("spr_or.commands", 5), ("spr_or.cli", 5),
    ("spr_or.pruning", 4), ("spr_or.sweeps", 4), ("spr_or.studies", 4),
    ("spr_or", 3),
]
COMMANDS_LAYER = 5


def layer_of(module: str) -> int:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"{module} belongs to no layer")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]):
    """(imported module, at module level?) for every import of the project in ``path``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from pkg import sub`` imports the submodule pkg.sub
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target, id(node) in top_level


@pytest.fixture(scope="module")
def graph():
    modules = project_modules()
    known = set(modules)
    return {m: list(imports_of(m, p, known)) for m, p in modules.items()}


def test_every_import_points_down_or_within_its_layer(graph):
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, edges in graph.items() for t, _ in edges if layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_lazy_import_of_the_project_below_the_commands(graph):
    lazy = [f"{m} imports {t} inside a function" for m, edges in graph.items() for t, top in edges
            if not top and layer_of(m) < COMMANDS_LAYER]
    assert not lazy, "\n".join(lazy)


def test_module_level_imports_have_no_cycle(graph):
    edges = {m: sorted({t for t, top in e if top and t in graph and t != m}) for m, e in graph.items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(m, stack):
        state[m] = 1
        for t in edges[m]:
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in edges:
        if m not in state:
            visit(m, [m])


def test_the_layer_map_knows_every_module(graph):
    for module in graph:
        layer_of(module)


#: what a GPU box without the OR stack lacks (and what the torch side must not need)
BLOCKED = ("cvxpy", "highspy", "pyomo", "pyscipopt", "clarabel", "scipy", "sklearn", "mnist1d", "matplotlib",
           "yaml", "tqdm", "relaxations", "mip_models")

PROGRAM = """
import importlib.abc, importlib.machinery, sys
class Refuse(importlib.abc.Loader):  # found (so probes like torch._dynamo's find_spec pass), never loaded
    def create_module(self, spec):
        raise ImportError('blocked here: ' + spec.name)
    def exec_module(self, module):
        pass
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            return importlib.machinery.ModuleSpec(name, Refuse())
sys.meta_path.insert(0, Block())
import spr_or, spr_or.proximal, spr_or.data, spr_or.models, spr_or.regularizers
model = spr_or.create_model('resnet20')
reg = spr_or.make_regularizer('spr', model, lam=1.0, alpha=0.1, M=1.0)
reg().backward()
print('ok')
"""


def test_spr_or_imports_with_torch_torchvision_and_torch_pruning_alone():
    done = subprocess.run([sys.executable, "-c", PROGRAM.format(blocked=BLOCKED)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
