"""A sweep: a base pruning config and the runs around it, from one YAML file (experiments/*.yaml).

    name: table1_resnet20_cifar10
    table: 1                       # the paper's table (experiments/paper-results.csv), optional
    base: {model: resnet20, data: {dataset: cifar10}, ...}    # a `spr-or prune` config
    points:                        # settings, one run each (keys: dotted config keys; "method": a label
                                   # that names the run instead of the point's keys, with the keys that
                                   # vary among the points of one label) ...
      - {train.lr: 0.1, regularizer.lam: 1.1, regularizer.alpha: 0.01}
    grid:                          # ... and/or a cartesian product, crossed with the points
      regularizer.alpha: [0.01, 0.3]
    seeds: [0, 1, 2]

Runs = points x grid x seeds. Each run is named by its settings (``lr=0.1_lam=1.1_alpha=0.01_seed=0``)
and is a full `spr-or prune` run in ``<sweep>/runs/<name>/``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..pruning.config import ConfigError, apply_override, config_from_dict, read_yaml_file

SMOKE_OVERRIDES = ["reference.epochs=1", "reference.milestones=[]", "train.epochs=1", "train.milestones=[]",
                   "finetune.epochs=1", "finetune.milestones=[]", "report.latency_batch_sizes=[1]",
                   "report.latency_repeats=1", "data.num_workers=0", "data.pin_memory=false", "data.batch_size=16",
                   "data.test_batch_size=16", "data.image_size=64"]


@dataclass
class RunSpec:
    """One run of a sweep: its name (from its settings), the settings and the resolved config."""

    name: str
    settings: dict           # the point's and grid's values (dotted keys) and the seed
    config: dict             # the full resolved `spr-or prune` config


@dataclass
class SweepSpec:
    """A sweep as read from its YAML file (see the module docstring); ``runs()`` expands it.

    Parameters
    ----------
    name : str
        The sweep's name (default: the file's stem).
    base : dict
        The `spr-or prune` config every run starts from.
    points : list of dict
        Settings (dotted config keys, or "method": a label), one run each.
    grid : dict
        Dotted config key -> list of values; their cartesian product is crossed with the points.
    seeds : list of int
        The seeds every setting runs with.
    table : int or None
        The paper's table the sweep reproduces (experiments/paper-results.csv).
    description : str
        Free text shown at the top of the report.
    """

    name: str
    base: dict
    points: list = field(default_factory=lambda: [{}])
    grid: dict = field(default_factory=dict)
    seeds: list = field(default_factory=lambda: [0])
    table: int | None = None
    description: str = ""

    def runs(self, overrides=(), *, smoke: bool = False) -> list[RunSpec]:
        """Every run of the sweep, its config validated.

        Parameters
        ----------
        overrides : sequence of str
            ``key=value`` config overrides applied to every run (after its settings).
        smoke : bool
            Keep the first run only, with one epoch per phase and cheap reporting.

        Returns
        -------
        list of RunSpec
            points x grid x seeds, in that order, named by their settings.

        Raises
        ------
        ConfigError
            A run's config is invalid (the message names the run), or two runs have the same name.
        """
        keys = list(self.grid)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))] or [{}]
        # points sharing a "method" label are told apart in the run names by the keys that vary among them
        # (a method's lam grid, its pruning rule): the label still groups them in the report
        varying = {}
        for point in self.points:
            if "method" in point:
                same = [p for p in self.points if p.get("method") == point["method"]]
                varying[point["method"]] = [k for k in dict.fromkeys(k for p in same for k in p)
                                            if k != "method" and len({yaml.safe_dump(p.get(k)) for p in same}) > 1]
        runs = []
        for point, combo, seed in itertools.product(self.points, combos, self.seeds):
            settings = {**point, **combo, "seed": seed}
            data = copy.deepcopy(self.base)
            for key, value in settings.items():
                if key == "method":  # a label of the point, not a config key
                    continue
                apply_override(data, f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}")
            for override in list(overrides) + (SMOKE_OVERRIDES if smoke else []):
                apply_override(data, override)
            labelled = ({"method": settings["method"], **{k: point.get(k) for k in varying[settings["method"]]}}
                        if "method" in settings else settings)
            shown = {**labelled, **combo, "seed": seed} if "method" in settings else settings
            name = "_".join(f"{key.split('.')[-1]}={_short(value)}" for key, value in shown.items())
            try:
                config = config_from_dict(data).to_dict()
            except ConfigError as err:
                raise ConfigError(f"sweep {self.name}, run {name}: {err}") from None
            runs.append(RunSpec(name, settings, config))
            if smoke:
                break
        names = [r.name for r in runs]
        if len(set(names)) != len(names):
            raise ConfigError(f"sweep {self.name}: two runs have the same settings ({names})")
        return runs


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).replace("/", "-").replace(" ", "")


def load_sweep(path) -> SweepSpec:
    """The sweep of a YAML file (experiments/*.yaml), its keys and shapes checked.

    Parameters
    ----------
    path : str or Path
        The sweep file.

    Returns
    -------
    SweepSpec
        The sweep; ``.runs()`` validates each run's config.

    Raises
    ------
    ConfigError
        No such file, an unknown key, or a value of the wrong shape (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep config: no such file {path}")
    data = read_yaml_file(path, "sweep config") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"sweep config {path}: must hold a mapping of sweep keys (name, base, points, grid, seeds, "
                          f"table, description); got a {type(data).__name__}")
    known = {"name", "base", "points", "grid", "seeds", "table", "description"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"sweep config {path}: {unknown[0]} is not a sweep key; the keys are {sorted(known)}")
    if not isinstance(data.get("base", {}), dict):
        raise ConfigError(f"sweep config {path}: base must be a mapping (a `spr-or prune` config)")
    points = data.get("points") or [{}]
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ConfigError(f"sweep config {path}: points must be a list of mappings {{config key: value}}")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError(f"sweep config {path}: grid must map config keys to non-empty lists")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           for s in seeds):
        raise ConfigError(f"sweep config {path}: seeds must be a non-empty list of integers")
    return SweepSpec(name=data.get("name", path.stem), base=data.get("base") or {}, points=points, grid=grid,
                     seeds=seeds, table=data.get("table"), description=data.get("description", ""))
