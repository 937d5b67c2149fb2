"""The end-to-end pruning run behind ``spr-or prune``:

    reference  optional dense training: baseline accuracy and per-layer M (max |w|, MATH.md)
    train      phase 1: training with the regularizer (eq. (5), or its exact prox for SPR)
    prune      phase 2: the paper's rule (|w| < tol on > 99% of a filter) or the prox's exact zeros
    finetune   phase 3: l2 fine-tuning with the pruned entities held at zero
    compact    Torch-Pruning removes the pruned filters and what depends on them; the compact model
               is checked against the masked one, exported, and counted (params, FLOPs, latency)

Every epoch ends with an atomic checkpoint (model, optimizer, scheduler, masks, metrics); all
randomness of an epoch (data order, augmentation) is seeded from (seed, phase, epoch), so a run
resumed after a kill ends with the same numbers as an uninterrupted one (CPU). A non-finite loss
stops the run with NonFiniteLoss and leaves the last good checkpoint in place.

Every evaluation (each epoch, the dense reference, after pruning) measures the validation split
(``data.validation``: training examples held out, spr_or.data.splits) and the test split. Nothing
here selects anything: the final model is the last fine-tuning epoch's, whatever either accuracy
says; selection (lam, target) is the report's, on validation accuracy only (spr_or/sweeps/report.py).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler

from spr_core.errors import NonFiniteLoss

from ..atomic_files import make_results_dir, write_json_atomically, write_text_atomically
from ..batchnorm_scales import BN_SCALE_SCORE, bn_scale_scores
from ..data import load_datasets, split_validation
from ..data.device_loader import MEMORY_SHARE, DeviceLoader, fits_on_device
from ..data.tensor_splits import IN_MEMORY, tensor_split
from ..dependency_groups import group_entities
from ..entities import build_partition, check_disjoint, check_ignored_layers
from ..models.registry import create_model
from ..output_layers import output_layers
from ..proximal import ProximalSPR
from ..regularizers import make_regularizer, resolve_M
from ..regularizer_kinds import get_kind
from . import masks as masks_module
from .checkpoint import (CheckpointUnreadable, checkpoint_paths, load_latest_checkpoint, save_atomically,
                         save_checkpoint)
from .compaction import coupled_groups
from .config import ConfigError, PruneConfig, with_defaults
from .distributed import DistContext, init_distributed, shutdown_distributed
from .external_baselines import entity_importance, group_importance
from .report import write_report
from .run_lock import RunLock
from .training import evaluate, make_optimizer, train_one_epoch

PHASES = ("reference", "train", "prune", "finetune", "done")
CHECKPOINTS = "checkpoints"


def _epoch_seed(seed: int, phase: str, epoch: int) -> int:
    return (seed * 1_000_003 + PHASES.index(phase) * 10_007 + epoch) % (2 ** 63)


def what_results_depend_on(config: dict) -> dict:
    """The config without what a resumed run may change: the device and threads (``runtime``), the
    report's timing settings, DataLoader workers and pinned memory, and ``data.loader``."""
    config = with_defaults(config)  # a run saved before a key existed compares with its default
    out = {k: v for k, v in config.items() if k not in ("runtime", "report")}
    # data.loader: a resumed run keeps the data path it started with (recorded in its state), and
    # runs from before the key existed used the DataLoader
    out["data"] = {k: v for k, v in config["data"].items() if k not in ("num_workers", "pin_memory", "loader")}
    return out


def _validation_seed(config: PruneConfig) -> int:
    """``data.validation_seed``, or the run's seed where it is None."""
    return config.seed if config.data.validation_seed is None else config.data.validation_seed


@dataclass
class RunState:
    """Where a run stands, saved in every checkpoint (with the model, optimizer and scheduler)."""

    phase: str = "reference"                 # one of PHASES: the phase to run next (or running)
    epoch: int = 0                           # epochs of ``phase`` done
    global_epoch: int = 0                    # epochs done over all phases
    metrics: list = field(default_factory=list)   # one row per epoch (metrics.jsonl)
    masks: dict | None = None                # {layer: bool per entity} after the prune phase
    M: dict | None = None                    # {layer: M} from the dense reference (regularizer.M: reference)
    dense_accuracy: float | None = None
    accuracy_after_pruning: float | None = None
    dense_validation_accuracy: float | None = None
    validation_accuracy_after_pruning: float | None = None
    filters_exactly_zero: int | None = None  # after phase 1, before the pruning rule
    config: dict = field(default_factory=dict)
    #: "device" or "torch" (spr_or.data): kept on resume; runs from before the field used the DataLoader
    data_loader: str = "torch"
    #: the split the run started with (spr_or.data.split_validation's record: sizes, validation seed,
    #: SHA-256 of the held-out indices), kept on resume; None: a run from before data.validation
    #: existed, which held nothing out (it resumes with validation 0)
    split: dict | None = None

    def to_dict(self) -> dict:
        """The fields as a dict (the checkpoint stores it next to the model, optimizer and scheduler)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_checkpoint(cls, saved: dict) -> "RunState":
        """The state saved in checkpoint ``saved``: its keys that are fields (the model, optimizer and
        other entries are ignored); fields missing from older checkpoints keep their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})


class PruningRun:
    """One run in ``out_dir``; ``run()`` goes through the phases (resuming where a checkpoint is)."""

    def __init__(self, config: PruneConfig, out_dir, *, resume: bool = False, show_progress: bool = True):
        if out_dir is None or not str(out_dir).strip():
            raise ConfigError(f"--out must be a non-empty path (the run folder); got {out_dir!r}")
        self.config, self.out = config, Path(out_dir)
        self._lock = RunLock(self.out)
        self.resume, self.show_progress = resume, show_progress
        self.context: DistContext = init_distributed(config.runtime.device)
        self.device = torch.device(config.runtime.device if config.runtime.device != "cuda"
                                   else f"cuda:{self.context.local_rank}")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("runtime.device: CUDA was requested but torch sees no GPU; use runtime.device=cpu")
        if config.runtime.threads:
            torch.set_num_threads(config.runtime.threads)
        data = config.data
        # the loader's splits, nothing held out yet (a resumed run may hold out what it started with)
        self._whole = load_datasets(data.dataset, data.data_dir, augment=data.augment, num_samples=data.num_samples,
                                    image_size=data.image_size, verify_checksums=data.verify_checksums)
        self.data = split_validation(self._whole, data.validation, _validation_seed(config), dataset=data.dataset)
        self.example = self.data.test[0][0].unsqueeze(0)
        self.splits = self._device_splits()
        torch.manual_seed(config.seed)
        self.model = create_model(config.model, self.data.num_classes).to(self.device)
        try:
            with torch.no_grad():
                self.model.eval()(self.example.to(self.device))
        except RuntimeError as err:
            raise ConfigError(f"model: {config.model!r} does not accept the inputs of data.dataset "
                              f"{config.data.dataset!r} (shape {tuple(self.example.shape[1:])}): {err}") from None
        if config.runtime.channels_last and self.example.dim() == 4:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = (DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda"
                                            else None) if self.context.enabled else self.model)
        if config.runtime.compile:  # training steps only; evaluation and the report use the plain module
            self.net = torch.compile(self.net)
        self.state = RunState(config=config.to_dict(), data_loader="device" if self.splits is not None else "torch",
                              split=self.data.split)

    # ---------------------------------------------------------------- files
    def _log(self, message: str) -> None:
        if self.context.is_main and self.show_progress:
            print(f"[spr-or prune] {message}", flush=True)

    def _save(self, optimizer=None, scheduler=None) -> None:
        if not self.context.is_main:
            return
        state = dict(self.state.to_dict(), model=self.model.state_dict(),
                     optimizer=optimizer.state_dict() if optimizer is not None else None,
                     scheduler=scheduler.state_dict() if scheduler is not None else None)
        save_checkpoint(state, self.out / CHECKPOINTS)
        lines = "".join(json.dumps(m) + "\n" for m in self.state.metrics)
        write_text_atomically(self.out / "metrics.jsonl", lines)

    def _start_or_resume(self):
        """Check the folder against ``--resume`` and the saved config before writing anything, then
        take the folder's lock and write config.yaml; the saved state when resuming, else None."""
        has_run = bool(checkpoint_paths(self.out / CHECKPOINTS))
        if has_run and not self.resume:
            raise ConfigError(f"--out: {self.out} already holds a run ({CHECKPOINTS}/); pass --resume to continue it "
                              "or choose another --out")
        if self.resume and not has_run:
            raise ConfigError(f"--resume: {self.out} holds no run to resume (no {CHECKPOINTS}/last.pt or "
                              "previous.pt); run without --resume to start one")
        if self.context.is_main:
            make_results_dir(self.out)
            self._lock.acquire()  # one writer per folder: refused here if another run holds it
        saved = None
        if self.resume:
            saved, path = load_latest_checkpoint(self.out / CHECKPOINTS)
            if not isinstance(saved, dict) or not {"model", "config", "phase"} <= set(saved):
                raise CheckpointUnreadable(f"{path} is not a checkpoint of spr-or prune (no model, config and phase)")
            old, new = what_results_depend_on(saved["config"]), what_results_depend_on(self.config.to_dict())
            if saved.get("split") is None and new["data"]["validation"] in (None, 0):
                # a run from before data.validation held nothing out; it resumes so (keep_split)
                for kept in (old, new):
                    kept["data"] = {k: v for k, v in kept["data"].items() if k not in ("validation", "validation_seed")}
            if old != new:
                diff = [k for k in old if old[k] != new.get(k)]
                raise ConfigError(f"--resume: the run in {self.out} was started with a different config "
                                  f"(sections {diff} differ); resume it with the same config or use another --out")
            self.keep_split(saved.get("split"))  # checked before anything is written
        if self.context.is_main:
            write_text_atomically(self.out / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        if saved is None:
            return None
        self.model.load_state_dict(saved["model"])
        self.state = RunState.from_checkpoint(saved)
        self.state.config = self.config.to_dict()
        self.state.split = self.data.split  # a run from before the field: its split (none held out) now recorded
        self._keep_data_path(self.state.data_loader)
        self._log(f"resuming at phase {self.state.phase}, after epoch {self.state.epoch}")
        return saved

    def _load_weights(self, key: str):
        """The state_dict file of config key ``key`` (reference_model / regularized_model) loaded into
        the model; a ConfigError naming the key and the file when it is not a state_dict of this model."""
        path = getattr(self.config, key)
        try:
            weights = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:  # noqa: BLE001 - any failure to read the file is the user's file
            raise ConfigError(f"{key}: {path} cannot be loaded as a state_dict ({type(err).__name__}: {err})") from err
        if isinstance(weights, torch.nn.Module) or not isinstance(weights, dict):
            raise ConfigError(f"{key}: {path} must hold a state_dict (a dict of tensors); got {type(weights).__name__}")
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as err:
            raise ConfigError(f"{key}: {path} does not fit model {self.config.model!r}: {err}") from None

    # ---------------------------------------------------------------- data
    def keep_split(self, recorded: dict | None) -> None:
        """A resumed run holds out what it started with (``recorded``: its RunState.split): the same
        count and seed, checked by the SHA-256 of the indices; a run from before the validation split
        existed (None) holds out nothing."""
        d = self.config.data
        count, seed = (0, _validation_seed(self.config)) if recorded is None else \
            (recorded["validation"], recorded["validation_seed"])
        if (self.data.split["validation"], self.data.split["validation_seed"]) != (count, seed):
            self.data = split_validation(self._whole, count, seed, dataset=d.dataset)
            self.splits = None  # freed before the new splits take the device's memory
            self.splits = self._device_splits()
        if recorded is not None and recorded["validation_indices_sha256"] != self.data.split["validation_indices_sha256"]:
            raise ConfigError(f"--resume: the run in {self.out} held out other training examples as its validation "
                              f"split (SHA-256 {recorded['validation_indices_sha256'][:12]}..., now "
                              f"{self.data.split['validation_indices_sha256'][:12]}...): has data.dataset's data "
                              "changed? resume it with the data it started with")

    def _device_splits(self):
        """{train, validation, test} TensorSplits on the run's device (validation None where nothing is
        held out) for ``data.loader`` device / auto (where the dataset is held in memory and fits in
        the device's memory), else None: the DataLoader path."""
        d = self.config.data
        if d.loader == "torch" or (d.loader == "auto" and d.dataset not in IN_MEMORY):
            return None
        if d.dataset not in IN_MEMORY:
            raise ConfigError(f"data.loader: 'device' holds the whole dataset on the device; {d.dataset!r} is read "
                              f"from files (in memory: {list(IN_MEMORY)}): use data.loader=torch or auto")
        splits = {"train": tensor_split(d.dataset, self.data.train, True, d.augment),
                  "validation": (tensor_split(d.dataset, self.data.validation, False, d.augment)
                                 if self.data.validation is not None else None),
                  "test": tensor_split(d.dataset, self.data.test, False, d.augment)}
        fits, sizes = fits_on_device(sum(s.nbytes for s in splits.values() if s is not None), self.device)
        fits = self.context.sum([float(fits)])[0] == self.context.world_size  # every rank takes the same path
        if not fits:
            if d.loader == "device":
                raise ConfigError(f"data.loader: the {d.dataset} splits do not fit on the device ({sizes}; at most "
                                  f"{MEMORY_SHARE:.0%} of the free memory is used): use data.loader=torch or auto")
            self._log(f"data.loader auto: the DataLoader path, the splits do not fit on the device ({sizes})")
            return None
        return {name: s.to(self.device) if s is not None else None for name, s in splits.items()}

    def _keep_data_path(self, started_with: str) -> None:
        """A resumed run draws its data as it started (device or torch path), whatever ``auto`` would
        choose now: the two paths draw different random streams."""
        if started_with == "torch":
            self.splits = None
        elif self.splits is None:
            raise ConfigError(f"--resume: the run in {self.out} started on the device-resident data path "
                              "(data.loader), which this device cannot hold now; resume it where it fits")
        self.state.data_loader = started_with

    def _train_loader(self, phase: str, epoch: int):
        d, seed = self.config.data, _epoch_seed(self.config.seed, phase, epoch)
        torch.manual_seed(seed + self.context.rank)  # the global stream (torch path's augmentation, dropout)
        if self.splits is not None:
            return DeviceLoader(self.splits["train"], d.batch_size, seed, self.context.rank, self.context.world_size)
        common = dict(batch_size=d.batch_size, num_workers=d.num_workers, pin_memory=d.pin_memory)
        if self.context.enabled:
            sampler = DistributedSampler(self.data.train, self.context.world_size, self.context.rank, shuffle=True,
                                         seed=self.config.seed)
            sampler.set_epoch(seed % (2 ** 31))
            return DataLoader(self.data.train, sampler=sampler, **common)
        return DataLoader(self.data.train, shuffle=True, generator=torch.Generator().manual_seed(seed), **common)

    def _eval_loader(self, split: str):
        """Batches of split ``split`` ("validation" or "test"), in order, without augmentation."""
        if self.splits is not None:
            return DeviceLoader(self.splits[split], self.config.data.test_batch_size, None, self.context.rank,
                                self.context.world_size)
        dataset = getattr(self.data, split)
        if self.context.enabled:
            dataset = Subset(dataset, range(self.context.rank, len(dataset), self.context.world_size))
        d = self.config.data
        return DataLoader(dataset, batch_size=d.test_batch_size, num_workers=d.num_workers, pin_memory=d.pin_memory)

    def _evaluate(self, split: str = "test") -> dict:
        """``{split}_accuracy`` (%) and ``{split}_loss`` of the model on ``split`` ("validation" or
        "test"); both None for the validation split where nothing is held out."""
        if split == "validation" and self.data.validation is None:
            return {"validation_accuracy": None, "validation_loss": None}
        rt = self.config.runtime
        out = evaluate(self.model, self._eval_loader(split), self.device, bf16=rt.bf16,
                       channels_last=rt.channels_last, context=self.context)
        return {f"{split}_accuracy": out["test_accuracy"], f"{split}_loss": out["test_loss"]}

    def _evaluate_both(self) -> dict:
        """The validation and the test split's accuracy and loss (validation first)."""
        return {**self._evaluate("validation"), **self._evaluate("test")}

    # ---------------------------------------------------------------- phases
    @functools.cached_property
    def _layer_names(self):
        """The layers regularized and pruned: all (None) or, with ``scope: removable``, those whose
        filters Torch-Pruning can remove one at a time (traced once per run)."""
        if self.config.regularizer.scope == "all" or self.config.regularizer.entities == "groups":
            return None  # every dependency-group entity is removable by construction
        entity_layers = [layer.name for layer in build_partition(self.model, self.config.regularizer.entities,
                                                                 ignored_layers=self._left_out)]
        groups = coupled_groups(self.model, self.example.to(self.device), entity_layers)
        return [g["root"] for g in groups if g["producers"] == [g["root"]] and not g["pads"]]

    @functools.cached_property
    def _left_out(self) -> list[str]:
        """The layers never regularized or pruned: ``regularizer.ignored_layers`` and the layers whose
        output channels are the model's outputs (found once, from one forward pass)."""
        outputs = output_layers(self.model, self.example.to(self.device))
        return list(dict.fromkeys(self.config.regularizer.ignored_layers + outputs))

    @functools.cached_property
    def _groups_traced(self):
        """(the dependency-group entities, the groups left out with their reasons), traced once per run."""
        check_ignored_layers(self.model, self._left_out)
        layers, left_out = group_entities(self.model, self.example.to(self.device), ignored_layers=self._left_out)
        check_disjoint(layers)
        return layers, left_out

    @property
    def _group_partition(self):
        """The dependency-group entities (``entities: groups``)."""
        return self._groups_traced[0]

    def partition(self):
        """The entities pruned and masked: with ``entities: groups`` every channel of every
        dependency group (what compaction removes); with ``filters`` a filter with its bias and
        BatchNorm channel, whatever the regularizer penalises (``regularizer.tie_batchnorm``), so a
        pruned channel outputs 0."""
        if self.config.regularizer.entities == "groups":
            return self._group_partition
        return build_partition(self.model, self.config.regularizer.entities, tie_bias=True, tie_batchnorm=True,
                               layer_names=self._layer_names, ignored_layers=self._left_out)

    def _regularizer(self):
        reg, kind = self.config.regularizer, get_kind(self.config.regularizer.kind)
        M = None
        if kind.needs_M:
            M = self.state.M if reg.M == "reference" else float(reg.M)
        # the output layers are in _left_out already: the example goes only to a kind's gradient hook
        example = self.example.to(self.device) if kind.gradient_hook else None
        entities = self._group_partition if reg.entities == "groups" else reg.entities
        return make_regularizer(reg.kind, self.model, lam=reg.lam, alpha=reg.alpha, M=M, entities=entities,
                                variant=reg.variant, weighting=reg.weighting, tie_bias=True,
                                tie_batchnorm=reg.tie_batchnorm, M_floor=reg.M_floor, layer_names=self._layer_names,
                                ignored_layers=self._left_out, example_input=example)

    def _run_phase(self, phase: str, saved) -> None:
        cfg = getattr(self.config, phase)
        regularizer = self._regularizer() if phase == "train" else None
        after_backward = regularizer.after_backward if regularizer is not None else None
        if regularizer is not None and not regularizer.kind.has_penalty:
            regularizer = None  # it acts on the gradients only (after_backward)
        proximal = phase == "train" and self.config.regularizer.proximal
        optimizer, scheduler = make_optimizer(self.net, cfg)
        stepper = ProximalSPR(optimizer, regularizer) if proximal else optimizer
        after_step = None
        if phase == "finetune":
            layers, masks = self.partition(), self.state.masks
            masks_module.apply_masks_(layers, masks)
            after_step = masks_module.mask_keeper(layers, masks)
        if saved is not None and saved.get("optimizer") is not None:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        rt = self.config.runtime
        for epoch in range(self.state.epoch, cfg.epochs):
            start = time.perf_counter()
            stats = train_one_epoch(self.net, self._train_loader(phase, epoch), stepper, self.device,
                                    regularizer=regularizer, proximal=proximal, after_step=after_step,
                                    after_backward=after_backward, bf16=rt.bf16,
                                    channels_last=rt.channels_last, description=f"{phase} {epoch + 1}/{cfg.epochs}",
                                    show_progress=self.show_progress and self.context.is_main)
            scheduler.step()
            self.context.broadcast_buffers_(self.model)
            stats.update(self._evaluate_both())
            self._check_finite(phase, epoch, stats)
            self.state.global_epoch += 1
            row = {"phase": phase, "epoch": epoch + 1, "global_epoch": self.state.global_epoch,
                   "lr": optimizer.param_groups[0]["lr"], **stats, "seconds": time.perf_counter() - start}
            if proximal:  # the prox's share of the epoch, timed in the same epoch (robust to machine noise)
                row["prox_seconds"], stepper.prox_seconds = stepper.prox_seconds, 0.0
            if regularizer is not None:
                zero = masks_module.exact_zero_masks(regularizer.layers)
                row["zero_filters"] = int(sum(int(m.sum()) for m in zero.values()))
            self.state.metrics.append(row)
            self.state.epoch = epoch + 1
            self._save(optimizer, scheduler)
            validation = stats["validation_accuracy"]
            self._log(f"{phase} epoch {epoch + 1}/{cfg.epochs}: loss {stats['train_loss']:.4f}, "
                      + (f"validation accuracy {validation:.2f}%, " if validation is not None else "")
                      + f"test accuracy {stats['test_accuracy']:.2f}%"
                      + (f", exact-zero filters {row['zero_filters']}" if "zero_filters" in row else ""))

    def _check_finite(self, phase: str, epoch: int, stats: dict) -> None:
        """Raise NonFiniteLoss (before the checkpoint is written) if a weight, the penalty or the
        test loss is NaN or inf: the last step of an epoch may have made them so."""
        bad = [name for name, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        values = [stats.get("penalty", 0.0), stats["test_loss"], stats["train_loss"]]
        if stats.get("validation_loss") is not None:
            values.append(stats["validation_loss"])
        if bad or not all(map(math.isfinite, values)):
            what = f"weights {bad[:3]}" if bad else "the penalty or the validation or test loss"
            raise NonFiniteLoss(f"{phase} {epoch + 1}: {what} became NaN or inf at the end of the epoch")

    def _finish_reference(self) -> None:
        if self.config.reference_model:
            self._load_weights("reference_model")
        has_reference = bool(self.config.reference.epochs or self.config.reference_model)
        if has_reference:
            dense = self._evaluate_both()
            self.state.dense_accuracy = dense["test_accuracy"]
            self.state.dense_validation_accuracy = dense["validation_accuracy"]
        else:
            self.state.dense_accuracy = self.state.dense_validation_accuracy = None
        reg = self.config.regularizer
        if get_kind(reg.kind).needs_M and reg.M == "reference":
            self.state.M = resolve_M(self.model.state_dict(), self.partition(), reg.M_floor)
        if self.context.is_main and has_reference:
            save_atomically(self.model.state_dict(), self.out / "reference_model.pt")
        if self.config.start_from == "scratch":
            torch.manual_seed(self.config.seed + 1)
            fresh = create_model(self.config.model, self.data.num_classes)
            self.model.load_state_dict(fresh.state_dict())

    def _prune(self) -> None:
        rule = self.config.prune
        layers = self.partition()
        if rule.rule == "threshold":
            masks = masks_module.threshold_masks(layers, rule.tol, rule.zero_fraction)
        elif rule.rule == "exact_zeros":
            masks = masks_module.exact_zero_masks(layers)
        else:
            if rule.score == "tp_group":
                writers = list(dict.fromkeys(name for layer in layers for name in layer.writer_modules))
                modules = dict(self.model.named_modules())
                roots = sorted({root for layer in layers for nodes in (layer.removal or [[(layer.name, 0)]])
                                for root, _ in nodes if isinstance(modules[root], (nn.Conv1d, nn.Conv2d, nn.Conv3d))})
                scores = group_importance(self.model, self.example.to(self.device), writers, roots)
                if self.config.regularizer.entities == "groups":  # heads (no Torch-Pruning score): magnitude
                    scores = {**masks_module.magnitude_scores(layers, "l2"), **entity_importance(layers, scores)}
            elif rule.score == BN_SCALE_SCORE:  # network slimming: |gamma| of the entities' BatchNorm channels
                scores = bn_scale_scores(layers, self.model)
            else:
                scores = masks_module.magnitude_scores(layers, rule.score)
            masks = masks_module.target_masks(layers, scores, rule.target)
        self.state.filters_exactly_zero = sum(int(m.sum()) for m in masks_module.exact_zero_masks(layers).values())
        masks_module.apply_masks_(layers, masks)
        self.state.masks = masks
        after = self._evaluate_both()
        accuracy = after["test_accuracy"]
        self.state.accuracy_after_pruning = accuracy
        self.state.validation_accuracy_after_pruning = after["validation_accuracy"]
        pruned = sum(int(m.sum()) for m in masks.values())
        total = sum(len(m) for m in masks.values())
        self.state.metrics.append({"phase": "prune", "global_epoch": self.state.global_epoch,
                                   "validation_accuracy": after["validation_accuracy"], "test_accuracy": accuracy,
                                   "pruned_filters": pruned, "filters": total})
        self._log(f"pruned {pruned} of {total} filters; test accuracy before fine-tuning {accuracy:.2f}%")

    def run(self) -> dict:
        """Run the phases left (reference, train, prune, finetune), checkpointing after each epoch and
        phase, then compact and write the report: returns the contents of results.json on rank 0,
        None on the other ranks. The process group is left in every case; a non-finite loss raises
        NonFiniteLoss naming the last good checkpoint."""
        started = time.perf_counter()
        try:
            saved = self._start_or_resume()
            order = PHASES
            while self.state.phase != "done":
                phase = self.state.phase
                resumed = saved if saved is not None and saved["phase"] == phase else None
                if phase == "prune":
                    self._prune()
                elif phase == "train" and self.config.regularized_model:
                    self._load_weights("regularized_model")
                elif phase != "reference" or not self.config.reference_model:
                    self._run_phase(phase, resumed)
                if phase == "train" and self.context.is_main:
                    save_atomically(self.model.state_dict(), self.out / "regularized_model.pt")
                if phase == "reference":
                    self._finish_reference()
                saved = None
                self.state.phase, self.state.epoch = order[order.index(phase) + 1], 0
                self._save()
            state = list(self.model.parameters()) + list(self.model.buffers())
            in_sync = self.context.all_equal(float(sum(t.detach().double().sum() for t in state)))
            # the other ranks leave now: rank 0's report (CPU compaction, latency) may take longer
            # than a collective's timeout
            self.context.barrier()
            shutdown_distributed(self.context)
            if not self.context.is_main:
                return None
            results = write_report(self.out, self.config, self.model, self.partition(), self.state, self.data.test,
                                   self.example, seconds=time.perf_counter() - started)
            results.update(ranks_in_sync=in_sync, world_size=self.context.world_size,
                           data_loader=self.state.data_loader, split=self.state.split)
            if self.config.regularizer.entities == "groups":  # what the SPR could not touch, and why
                results["groups_left_out"] = [{"root": g.root, "reason": g.reason} for g in self._groups_traced[1]]
            write_json_atomically(self.out / "results.json", results)
            return results
        except NonFiniteLoss as err:
            last = self.out / CHECKPOINTS / "last.pt"
            raise NonFiniteLoss(f"{err}. The run stopped; the last good checkpoint {last} "
                                "is kept. "
                                "Lower the learning rate (train.lr, ...) or regularizer.lam and start a new run "
                                "in another --out.") from None
        finally:
            shutdown_distributed(self.context)
            self._lock.release()


def run_pruning(config: PruneConfig, out_dir, *, resume: bool = False, show_progress: bool = True) -> dict:
    """Run (or resume) one pruning run: the phases of the module docstring.

    Parameters
    ----------
    config : PruneConfig
        The validated config (load_config).
    out_dir : str or Path
        The run folder: config.yaml, checkpoints, metrics.jsonl, results.json, plots, models.
    resume : bool
        Continue the run in ``out_dir`` from its last checkpoint (same config required).
    show_progress : bool
        Progress bars and one line per epoch.

    Returns
    -------
    dict or None
        The contents of results.json (rank 0; None on the other ranks of a DDP run).
    """
    return PruningRun(config, out_dir, resume=resume, show_progress=show_progress).run()
