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

from spr_core.errors import UserError

from ..batchnorm_scales import BN_SCALE_SCORE
from ..data import DATASETS, NEEDS_DATA_DIR, known_training_size
from ..data.splits import ALLOWED as VALIDATION_ALLOWED
from ..data.splits import is_validation_value, validation_count
from ..models.registry import MODELS
from ..regularizer_kinds import KINDS, get_kind
from ..regularizers import WEIGHTINGS
from ..spr_torch import VARIANTS
from .masks import PRUNE_RULES, PRUNE_SCORES


class ConfigError(UserError, ValueError):
    """A bad configuration value; the message starts with the dotted key."""


@dataclass
class DataConfig:
    """``data.*``: the dataset, where it is read from, batch sizes, loading (workers, pinned memory,
    ``loader``: device-resident or DataLoader) and augmentation (docs/pruning.md, "Data")."""

    dataset: str = "mnist1d"          # a name of spr_or.data.DATASETS
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
    #: training examples held out as the validation split (model selection reads it; the test split
    #: is only reported): an integer count (0: none), a fraction in (0, 1) of the training split, or
    #: None: the dataset's default (spr_or.data.splits.DEFAULT_VALIDATION: mnist1d 500 of 4,000,
    #: digits 15%, CIFAR 5,000 of 50,000, synthetic 10%, imagenet none); stratified by class
    validation: typing.Any = None
    validation_seed: int | None = None  # the held-out indices' seed (None: the run's seed)


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
    """``regularizer.*``: the train phase's regularizer lam * sum_i weight_i t_i (MATH.md eq. (5) for the SPR):
    its kind and variant, lam, alpha, M (a number or per layer from the dense reference, floored at
    ``M_floor``), the entities and their weighting, the exact prox (``proximal``) and which layers
    are regularized (``scope``)."""

    kind: str = "spr"                 # a name of spr_or.regularizer_kinds.KINDS
    variant: str = "exact"            # spr only: exact | paper | paper_code
    # lam scales the total shrinkage, which grows with the number of steps: the default run's 560
    # steps need a far larger lam than the paper's ~117,000 (300 CIFAR epochs), where lam ~ 1
    lam: float = 100.0
    alpha: float = 0.3
    M: typing.Any = "reference"       # a number, or "reference": max |w| per layer of the dense model
    M_floor: float = 1e-3
    #: groups: one entity per removable channel of every dependency group (every layer writing it,
    #: its norms), all removed by compaction; filters: one layer's output channels (the paper's)
    entities: str = "groups"
    tie_batchnorm: bool = True        # filters: a filter's BatchNorm scale and shift belong to its entity
    weighting: str = "size"           # size | none
    proximal: bool = True             # spr/exact only: exact prox step after each SGD step (exact zeros)
    scope: str = "all"                # filters: all: every conv layer; removable: only layers whose filters can be removed alone
    #: modules never regularized or pruned (the model's output layers are always left out)
    ignored_layers: list[str] = field(default_factory=list)


@dataclass
class PruneRuleConfig:
    """``prune.*``: which filters the prune phase zeroes: the paper's threshold rule (MATH.md, "Pruning
    protocol of the paper": |w| < ``tol`` is zero, more than ``zero_fraction`` zeros prunes the
    entity), the exact zeros, or a ``target`` fraction of the lowest-``score`` filters."""

    rule: str = "threshold"           # threshold: the paper's rule; exact_zeros: entities that are exactly 0;
                                      # target: the lowest-score filters up to ``target`` (matched sparsity)
    tol: float = 1e-4                 # |w| < tol counts as zero
    zero_fraction: float = 0.99       # an entity with more than this fraction of zeros is pruned
    target: float = 0.5               # rule target: fraction of the regularized layers' filter weights to prune
    score: str = "l2"                 # rule target: l2 (RMS of the filter), l1 (mean |w|, Li et al.), tp_group,
                                      # bn_scale (|gamma| of the BatchNorm channel, network slimming)


@dataclass
class RuntimeConfig:
    """``runtime.*``: where and how the run computes (device, bf16 autocast, channels_last,
    torch.compile, CPU threads); a resumed run may change these."""

    device: str = "cpu"               # cpu | cuda | cuda:N
    bf16: bool = False                # bfloat16 autocast in training and evaluation
    channels_last: bool = False
    compile: bool = False             # torch.compile the training forward/backward
    threads: int | None = None        # torch CPU threads (None: torch's default)


@dataclass
class ReportConfig:
    """``report.*``: the CPU latency measurement of the masked and the compact model (batch sizes,
    repeats per timing), and whether the compact model is exported (torch.export, compact_model.pt2)
    and the run plotted (plots/); a resumed run may change these. Sweeps of many small runs turn the
    export and the plots off: together they take about 3 s of a run (docs/study.md)."""

    latency_batch_sizes: list[int] = field(default_factory=lambda: [1, 128])
    latency_repeats: int = 20
    export: bool = True               # compact_model.pt2 (the compact model is built and checked either way)
    plots: bool = True                # plots/training_curves.png and plots/layer_profile.png


@dataclass
class PruneConfig:
    """The whole configuration of one ``spr-or prune`` run: top-level keys (seed, model, start_from,
    reference_model, regularized_model) and one section per concern (``data``, the phases
    ``reference`` / ``train`` / ``finetune``, ``regularizer``, ``prune``, ``runtime``, ``report``).
    Every key has a default (the offline MNIST-1D run); build it with ``load_config`` or
    ``config_from_dict``. The keys and what they do: docs/pruning.md."""

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
        """The config as nested plain dicts and lists (``dataclasses.asdict``), as saved in config.yaml
        and in checkpoints."""
        return dataclasses.asdict(self)


def choices() -> dict[str, tuple]:
    """{key: allowed values}: every list of choices read now from the registry that implements it
    (so a kind, model or dataset registered at run time is accepted)."""
    return {
        "data.loader": ("auto", "device", "torch"),
        "data.dataset": tuple(DATASETS),
        "model": tuple(sorted(MODELS)),
        "regularizer.kind": tuple(KINDS),
        "regularizer.variant": VARIANTS,
        # the pipeline prunes and compacts channels: dependency groups (default) or single layers'
        # filters; the other entity kinds of spr_or.entities are for make_regularizer
        "regularizer.entities": ("groups", "filters"),
        "regularizer.weighting": WEIGHTINGS,
        "regularizer.scope": ("all", "removable"),
        "prune.rule": PRUNE_RULES,
        "prune.score": (*PRUNE_SCORES, BN_SCALE_SCORE),  # bn_scale: spr_or.batchnorm_scales.bn_scale_scores
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
            # e.g. 1e21: YAML 1.1 reads it as a string, 1.0e21 as a float; name the range too
            allowed = allowed_range(key.split("[")[0])
            wanted = allowed if allowed.startswith("an integer") else \
                "an integer" + (f" ({allowed})" if allowed else "")
            raise ConfigError(f"{key} must be {wanted}; got {value!r}")
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


def _number_in(low, high, *, low_open=False, high_open=False):
    """(test, allowed) for a number in the interval from low to high (None: unbounded); None passes."""
    def test(value):
        return value is None or ((low is None or (value > low if low_open else value >= low))
                                 and (high is None or (value < high if high_open else value <= high)))
    if high is None:
        return test, f"{'>' if low_open else '>='} {low:g}"
    return test, f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


POSITIVE = _number_in(0, None, low_open=True)
NON_NEGATIVE = _number_in(0, None)
AT_LEAST_ONE = _number_in(1, None)
TRAINING_PHASES = ("reference", "train", "finetune")
#: upper bounds of the integer keys: far above any real run, and below what torch, numpy and a
#: DataLoader take (a batch size of 10**30 overflows inside torch instead of naming the key)
MAX_BATCH = 2 ** 20
MAX_EPOCHS = 100_000
MAX_WORKERS = 1024
MAX_SAMPLES = 10 ** 9
MAX_IMAGE_SIZE = 8192
MAX_REPEATS = 1_000_000
MAX_THREADS = 4096


def _ints_in(low: int, high: int):
    """(test, allowed) for an integer in [low, high] (bounds spelled out, not in %g); None passes."""
    return (lambda value: value is None or low <= value <= high), f"an integer in [{low}, {high}]"


#: (key, (test(value) -> bool, what is allowed)): one row per range check of a single key
RANGES = [
    ("seed", (lambda s: 0 <= s < 2 ** 63, "an integer in [0, 2**63 - 1]")),
    *[(key, _ints_in(1, MAX_BATCH)) for key in ("data.batch_size", "data.test_batch_size")],
    ("data.num_samples", _ints_in(1, MAX_SAMPLES)),
    ("data.validation", (lambda v: is_validation_value(v) and (not isinstance(v, int) or v <= MAX_SAMPLES),
                         VALIDATION_ALLOWED)),
    ("data.validation_seed", (lambda s: s is None or 0 <= s < 2 ** 63, "an integer in [0, 2**63 - 1] or null "
                              "(the run's seed)")),
    ("data.image_size", _ints_in(1, MAX_IMAGE_SIZE)),
    ("report.latency_repeats", _ints_in(1, MAX_REPEATS)),
    ("runtime.threads", _ints_in(1, MAX_THREADS)),
    *[(key, POSITIVE) for key in ("regularizer.M_floor", "prune.tol")],
    ("data.num_workers", _ints_in(0, MAX_WORKERS)),
    *[row for phase in TRAINING_PHASES for row in (
        (f"{phase}.epochs", _ints_in(0, MAX_EPOCHS)), (f"{phase}.lr", POSITIVE), (f"{phase}.weight_decay", NON_NEGATIVE),
        (f"{phase}.momentum", _number_in(0, 1, high_open=True)), (f"{phase}.gamma", _number_in(0, 1, low_open=True)),
        (f"{phase}.milestones", (lambda m: all(1 <= v <= MAX_EPOCHS for v in m) and sorted(m) == m,
                                 f"increasing epochs in [1, {MAX_EPOCHS}]")))],
    ("train.epochs", AT_LEAST_ONE),  # the regularized phase
    ("regularizer.lam", NON_NEGATIVE),
    ("regularizer.alpha", _number_in(0, 1, low_open=True, high_open=True)),
    ("regularizer.M", (lambda M: M == "reference" or (not isinstance(M, (bool, str)) and isinstance(M, (int, float))
                                                       and M > 0 and math.isfinite(M)), "a number > 0 or 'reference'")),
    ("prune.target", _number_in(0, 1, low_open=True, high_open=True)),
    ("prune.zero_fraction", _number_in(0, 1, high_open=True)),
    ("runtime.device", (lambda d: d in ("cpu", "cuda") or (d.startswith("cuda:") and d[5:].isdigit()),
                        "'cpu', 'cuda' or 'cuda:N'")),
    ("report.latency_batch_sizes", (lambda sizes: all(1 <= b <= MAX_BATCH for b in sizes),
                                    f"integers in [1, {MAX_BATCH}]")),
]


def allowed_range(key: str) -> str:
    """What RANGES allows for ``key`` ("" if it has no range row), for the messages of a wrong type."""
    return " and ".join(allowed for k, (_, allowed) in RANGES if k == key)


def _has_reference(c: PruneConfig) -> bool:
    return c.reference.epochs >= 1 or bool(c.reference_model)


def _validation_problem(c: PruneConfig) -> str | None:
    """Why data.validation does not fit the training split, where the config fixes its size (the
    embedded and synthetic datasets; the others are checked when their files are read)."""
    size = known_training_size(c.data.dataset, c.data.num_samples)
    if size is None:
        return None
    try:
        validation_count(c.data.validation, size, c.data.dataset)
    except UserError as err:
        return str(err).removeprefix("data.validation ")
    return None


#: (key, test(config) -> bool, message): the checks that relate several keys or the file system
RULES = [
    ("reference_model", lambda c: c.reference_model is None or Path(c.reference_model).is_file(),
     lambda c: f"no such file {c.reference_model}"),
    ("regularized_model", lambda c: c.regularized_model is None or Path(c.regularized_model).is_file(),
     lambda c: f"no such file {c.regularized_model}"),
    ("start_from", lambda c: c.start_from != "reference" or _has_reference(c),
     lambda c: "'reference' needs a dense reference phase (reference.epochs >= 1); set start_from=scratch to train "
               "with the regularizer from a fresh initialisation"),
    ("regularizer.M", lambda c: c.regularizer.M != "reference" or not get_kind(c.regularizer.kind).needs_M
     or _has_reference(c),
     lambda c: "'reference' takes M from the dense reference model, so reference.epochs must be >= 1; or give M as "
               "a number"),
    ("regularizer.proximal", lambda c: not c.regularizer.proximal
     or get_kind(c.regularizer.kind).has_prox(c.regularizer.variant),
     lambda c: f"the exact prox exists for kind 'spr' with variant 'exact' only (got kind {c.regularizer.kind!r}, "
               f"variant {c.regularizer.variant!r}); set regularizer.proximal=false"),
    ("prune.rule", lambda c: c.prune.rule != "exact_zeros" or c.regularizer.proximal,
     lambda c: "'exact_zeros' prunes the entities the proximal step set to exactly 0; without "
               "regularizer.proximal=true nothing is exactly 0: use prune.rule=threshold"),
    ("regularizer.scope", lambda c: c.regularizer.scope == "all" or c.regularizer.entities == "filters",
     lambda c: "'removable' selects the layers whose filters can be removed alone (entities: filters); with "
               "regularizer.entities=groups every entity is removable: use scope=all"),
    ("data.num_samples", lambda c: c.data.dataset != "mnist1d" or c.data.num_samples is None
     or c.data.num_samples >= 50,
     lambda c: f"must be >= 50 for mnist1d (80% train, 20% test); got {c.data.num_samples}"),
    ("data.validation", lambda c: _validation_problem(c) is None, _validation_problem),
    ("data.data_dir", lambda c: c.data.dataset not in NEEDS_DATA_DIR or bool(c.data.data_dir),
     lambda c: f"dataset {c.data.dataset!r} is read from a local folder; pass --data-dir DIR (nothing is "
               "downloaded)"),
]


def validate(config: PruneConfig) -> PruneConfig:
    """Check ``config`` against choices(), RANGES and RULES; each error names its key."""
    reg = config.regularizer
    if isinstance(reg.M, str) and reg.M != "reference":
        try:
            reg.M = float(reg.M)  # YAML 1.1 reads 1e-2 (no dot) as a string
        except ValueError:
            pass
    if isinstance(config.data.validation, str):
        try:
            config.data.validation = float(config.data.validation)  # 1e-1 (no dot), as above
        except ValueError:
            pass
    flat = _flatten(config.to_dict())
    for key, allowed in choices().items():
        if flat[key] not in allowed:
            raise ConfigError(f"{key} must be one of {list(allowed)}; got {flat[key]!r}")
    for key, (test, allowed) in RANGES:
        if not test(flat[key]):
            raise ConfigError(f"{key} must be {allowed}; got {flat[key]!r}")
    for key, test, message in RULES:
        if not test(config):
            raise ConfigError(f"{key}: {message(config)}")
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


def read_yaml_file(path, what: str = "config"):
    """The YAML document of file ``path``; a ConfigError naming ``what``, the file and, for a YAML
    syntax error, its line and column (no yaml traceback reaches the user).

    Parameters
    ----------
    path : str or Path
        The file (it must exist: the caller says which file is missing).
    what : str
        What the file is, for the message ("config", "sweep config").

    Returns
    -------
    object
        The parsed document (None for an empty file).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {err.start}); is it a YAML file?") from None
    except OSError as err:
        raise ConfigError(f"{what} {path}: cannot be read ({err.strerror or err})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else \
            f"position {getattr(err, 'position', '?')}"
        problem, context = getattr(err, "problem", None), getattr(err, "context", None)
        problem = (f"{problem} ({context})" if context else problem) if problem else str(err).splitlines()[0]
        raise ConfigError(f"{what} {path}: invalid YAML at {where}: {problem}") from None


def load_config(path=None, overrides=(), *, base: dict | None = None) -> PruneConfig:
    """The validated config of one run.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file (experiments/*.yaml); None: the defaults (the offline MNIST-1D run).
    overrides : list of str
        ``section.key=value`` items, values parsed as YAML, applied after the file.
    base : dict, optional
        Values under the file (a sweep's common settings).

    Returns
    -------
    PruneConfig
        Raises ConfigError naming the key on an unknown key, a wrong type or a value out of range.
    """
    data = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config: no such file {path}")
        loaded = read_yaml_file(path, "config") or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config: {path} must hold a mapping of keys to values")
        data.update(loaded)
    for override in overrides:
        apply_override(data, override)
    return validate(_build(PruneConfig, data))


def with_defaults(data: dict) -> dict:
    """``data`` (a saved config) with every key it lacks at its default; not validated."""
    return _build(PruneConfig, data).to_dict()


def config_from_dict(data: dict) -> PruneConfig:
    """The validated config from a nested dict (a sweep's resolved run)."""
    return validate(_build(PruneConfig, data))
