"""The configuration of one pruning run (``spr-or prune``), as dataclasses loaded from YAML.

    config = load_config("experiments/resnet20_cifar10.yaml", overrides=["regularizer.lam=1.4"])

Every field has a default, so an empty config is the offline MNIST-1D run. A YAML file or an
override naming an unknown key, or giving a value of the wrong type or out of range, raises a
``ConfigError`` that names the key (``train.lr``) and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A bad configuration value; the message starts with the dotted key."""


@dataclass
class DataConfig:
    dataset: str = "mnist1d"          # mnist1d | digits | cifar10 | cifar100 | imagenet | synthetic_cifar10 | synthetic_imagenet
    data_dir: str | None = None       # the local folder of cifar10 / cifar100 / imagenet
    batch_size: int = 128
    test_batch_size: int = 512
    num_workers: int = 0
    pin_memory: bool = False
    augment: bool = True
    num_samples: int | None = None    # mnist1d: sequences generated (80% train); synthetic: training images
    image_size: int | None = None     # imagenet / synthetic: side of the (square) crop
    verify_checksums: bool = False    # cifar: check torchvision's MD5 sums
    #: device: the whole split on the run's device, batched augmentation there (in-memory datasets);
    #: torch: a DataLoader with per-image transforms (workers); auto: device where the dataset is held
    #: in memory and fits in half the device's free memory, else torch
    loader: str = "auto"


@dataclass
class PhaseConfig:
    """One training phase: SGD with momentum, weight decay (l2) and a multi-step learning rate."""
    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: list[int] = field(default_factory=list)  # epochs where lr is multiplied by gamma
    gamma: float = 0.1


@dataclass
class RegularizerConfig:
    kind: str = "spr"                 # spr | bigm | l1 | l2 | group_lasso
    variant: str = "exact"            # spr only: exact | paper | paper_code
    # lam scales the total shrinkage, which grows with the number of steps: the default run's 640
    # steps need a far larger lam than the paper's ~117,000 (300 CIFAR epochs), where lam ~ 1
    lam: float = 100.0
    alpha: float = 0.3
    M: typing.Any = "reference"       # a number, or "reference": max |w| per layer of the dense model
    M_floor: float = 1e-3
    entities: str = "filters"
    tie_batchnorm: bool = True        # a filter's BatchNorm scale and shift belong to its entity
    weighting: str = "size"           # size | none
    proximal: bool = True             # spr/exact only: exact prox step after each SGD step (exact zeros)
    scope: str = "all"                # all: every conv layer; removable: only layers whose filters can be removed alone


@dataclass
class PruneRuleConfig:
    rule: str = "threshold"           # threshold: the paper's rule; exact_zeros: entities that are exactly 0;
                                      # target: the lowest-score filters up to ``target`` (matched sparsity)
    tol: float = 1e-4                 # |w| < tol counts as zero
    zero_fraction: float = 0.99       # an entity with more than this fraction of zeros is pruned
    target: float = 0.5               # rule target: fraction of the regularized layers' filter weights to prune
    score: str = "l2"                 # rule target: l2 (RMS of the filter), l1 (mean |w|, Li et al.), tp_group


@dataclass
class RuntimeConfig:
    device: str = "cpu"               # cpu | cuda | cuda:N
    bf16: bool = False                # bfloat16 autocast in training and evaluation
    channels_last: bool = False
    compile: bool = False             # torch.compile the training forward/backward
    threads: int | None = None        # torch CPU threads (None: torch's default)


@dataclass
class ReportConfig:
    latency_batch_sizes: list[int] = field(default_factory=lambda: [1, 128])
    latency_repeats: int = 20


@dataclass
class PruneConfig:
    seed: int = 0
    model: str = "resnet1d_mnist1d"
    #: the regularized phase starts from the dense reference's weights ("reference") or from a
    #: fresh initialisation ("scratch", the paper's protocol)
    start_from: str = "reference"
    #: a dense model's state_dict (e.g. another run's reference_model.pt) used as the reference
    #: instead of training one: sweeps train the reference once and share it
    reference_model: str | None = None
    #: the state after phase 1 (another run's regularized_model.pt): skips phase 1; sweeps share it
    #: between runs that differ only in the pruning rule or the fine-tuning
    regularized_model: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    # defaults: the offline MNIST-1D run (about 2 minutes on 2 cores); the paper's protocol is in
    # experiments/*.yaml (300 + 200 epochs)
    reference: PhaseConfig = field(default_factory=lambda: PhaseConfig(epochs=10, milestones=[5, 8]))
    train: PhaseConfig = field(default_factory=lambda: PhaseConfig(epochs=20, lr=0.05, milestones=[12, 17]))
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    prune: PruneRuleConfig = field(default_factory=PruneRuleConfig)
    finetune: PhaseConfig = field(default_factory=lambda: PhaseConfig(epochs=10, lr=0.01, milestones=[6]))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "data.loader": ("auto", "device", "torch"),
    "data.dataset": ("mnist1d", "digits", "cifar10", "cifar100", "imagenet", "synthetic_cifar10", "synthetic_imagenet"),
    "regularizer.kind": ("spr", "bigm", "l1", "l2", "group_lasso", "tp_group_norm"),
    "regularizer.variant": ("exact", "paper", "paper_code"),
    # the pipeline prunes and compacts output channels (filters); the other entity kinds of
    # spr_or.entities are available to make_regularizer, not to this pipeline
    "regularizer.entities": ("filters",),
    "regularizer.weighting": ("size", "none"),
    "regularizer.scope": ("all", "removable"),
    "prune.rule": ("threshold", "exact_zeros", "target"),
    "prune.score": ("l2", "l1", "tp_group"),
    "start_from": ("reference", "scratch"),
}


def _convert(key: str, value, annotation):
    """``value`` as the annotated type, or a ConfigError naming ``key``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        inner = next(a for a in args if a is not type(None))
        return _convert(key, value, inner)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list; got {value!r}")
        return [_convert(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false; got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer; got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e12 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number; got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be finite; got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string; got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {annotation} for {key}")


def _build(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping of keys to values; got {data!r}")
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]} is not a config key; the keys of "
                          f"{prefix.rstrip('.') or 'the config'} are {sorted(names)}")
    default = cls()
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            base = dataclasses.asdict(getattr(default, f.name))
            section = data.get(f.name) or {}
            if not isinstance(section, dict):
                raise ConfigError(f"{key} must be a section (a mapping of keys to values); got {section!r}")
            base.update(section)
            values[f.name] = _build(hints[f.name], base, f"{key}.")
        elif f.name in data:
            values[f.name] = _convert(key, data[f.name], hints[f.name])
    return cls(**values)


def _positive(key, value, allow_zero=False):
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{key} must be {'>= 0' if allow_zero else '> 0'}; got {value!r}")


def validate(config: PruneConfig) -> PruneConfig:
    """Range checks that the types alone do not express; each error names its key."""
    flat = _flatten(config.to_dict())
    for key, allowed in CHOICES.items():
        if flat[key] not in allowed:
            raise ConfigError(f"{key} must be one of {list(allowed)}; got {flat[key]!r}")
    from ..models.registry import MODELS

    if config.model not in MODELS:
        raise ConfigError(f"model must be one of {sorted(MODELS)}; got {config.model!r}")
    for key in ("data.batch_size", "data.test_batch_size", "data.num_samples", "data.image_size",
                "report.latency_repeats", "runtime.threads"):
        _positive(key, flat[key])
    _positive("data.num_workers", flat["data.num_workers"], allow_zero=True)
    for phase in ("reference", "train", "finetune"):
        p = getattr(config, phase)
        _positive(f"{phase}.epochs", p.epochs, allow_zero=True)
        _positive(f"{phase}.lr", p.lr)
        _positive(f"{phase}.weight_decay", p.weight_decay, allow_zero=True)
        if not 0 <= p.momentum < 1:
            raise ConfigError(f"{phase}.momentum must be in [0, 1); got {p.momentum!r}")
        if not 0 < p.gamma <= 1:
            raise ConfigError(f"{phase}.gamma must be in (0, 1]; got {p.gamma!r}")
        if any(m < 1 for m in p.milestones) or sorted(p.milestones) != p.milestones:
            raise ConfigError(f"{phase}.milestones must be increasing epochs >= 1; got {p.milestones!r}")
    if config.reference_model is not None and not Path(config.reference_model).is_file():
        raise ConfigError(f"reference_model: no such file {config.reference_model}")
    if config.start_from == "reference" and config.reference.epochs < 1 and not config.reference_model:
        raise ConfigError("start_from: 'reference' needs a dense reference phase (reference.epochs >= 1); "
                          "set start_from=scratch to train with the regularizer from a fresh initialisation")
    if config.train.epochs < 1:
        raise ConfigError(f"train.epochs must be >= 1 (the regularized phase); got {config.train.epochs}")
    reg = config.regularizer
    _positive("regularizer.lam", reg.lam, allow_zero=True)
    if not 0 < reg.alpha < 1:
        raise ConfigError(f"regularizer.alpha must be in (0, 1); got {reg.alpha!r}")
    _positive("regularizer.M_floor", reg.M_floor)
    if isinstance(reg.M, str) and reg.M != "reference":
        try:
            reg.M = float(reg.M)  # YAML 1.1 reads 1e-2 (no dot) as a string
        except ValueError:
            pass
    if isinstance(reg.M, str):
        if reg.M != "reference":
            raise ConfigError(f"regularizer.M must be a number > 0 or 'reference'; got {reg.M!r}")
        if reg.kind in ("spr", "bigm") and config.reference.epochs < 1 and not config.reference_model:
            raise ConfigError("regularizer.M: 'reference' takes M from the dense reference model, so reference.epochs "
                              "must be >= 1; or give M as a number")
    elif isinstance(reg.M, bool) or not isinstance(reg.M, (int, float)) or not reg.M > 0 or not math.isfinite(reg.M):
        raise ConfigError(f"regularizer.M must be a number > 0 or 'reference'; got {reg.M!r}")
    if reg.proximal and not (reg.kind == "spr" and reg.variant == "exact"):
        raise ConfigError(f"regularizer.proximal: the exact prox exists for kind 'spr' with variant 'exact' only "
                          f"(got kind {reg.kind!r}, variant {reg.variant!r}); set regularizer.proximal=false")
    _positive("prune.tol", config.prune.tol)
    if not 0 < config.prune.target < 1:
        raise ConfigError(f"prune.target must be in (0, 1); got {config.prune.target!r}")
    if config.regularized_model is not None and not Path(config.regularized_model).is_file():
        raise ConfigError(f"regularized_model: no such file {config.regularized_model}")
    if config.prune.rule == "exact_zeros" and not reg.proximal:
        raise ConfigError("prune.rule: 'exact_zeros' prunes the entities the proximal step set to exactly 0; without "
                          "regularizer.proximal=true nothing is exactly 0: use prune.rule=threshold")
    if config.data.dataset == "mnist1d" and config.data.num_samples is not None and config.data.num_samples < 50:
        raise ConfigError(f"data.num_samples must be >= 50 for mnist1d (80% train, 20% test); "
                          f"got {config.data.num_samples}")
    if not 0 <= config.prune.zero_fraction < 1:
        raise ConfigError(f"prune.zero_fraction must be in [0, 1); got {config.prune.zero_fraction!r}")
    if config.data.dataset in ("cifar10", "cifar100", "imagenet") and not config.data.data_dir:
        raise ConfigError(f"data.data_dir: dataset {config.data.dataset!r} is read from a local folder; "
                          "pass --data-dir DIR (nothing is downloaded)")
    device = config.runtime.device
    if not (device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ConfigError(f"runtime.device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    if any(b < 1 for b in config.report.latency_batch_sizes):
        raise ConfigError(f"report.latency_batch_sizes must be integers >= 1; got {config.report.latency_batch_sizes}")
    return config


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def apply_override(data: dict, override: str) -> None:
    """``key.sub=value`` (value parsed as YAML) into the nested dict ``data``."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like key=value, e.g. train.lr=0.05")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part!r} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"{key}: cannot parse the value {raw!r}: {err}") from None


def load_config(path=None, overrides=(), base: dict | None = None) -> PruneConfig:
    """The validated config from a YAML file (or none: the defaults) and ``key=value`` overrides."""
    data = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config: no such file {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config: {path} must hold a mapping of keys to values")
        data.update(loaded)
    for override in overrides:
        apply_override(data, override)
    return validate(_build(PruneConfig, data))


def config_from_dict(data: dict) -> PruneConfig:
    return validate(_build(PruneConfig, data))
