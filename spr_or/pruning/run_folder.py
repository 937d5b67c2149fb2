"""A finished ``spr-or prune`` run folder read back: its config, the dense reference model, the masks
of the pruned entities and the partition they index (for studies of what the run pruned).

A finished run folder holds (pipeline.py, report.py)

    config.yaml             the resolved config
    reference_model.pt      the dense trained model (a state_dict), if the run had a reference
    checkpoints/last.pt     the last state: phase "done", masks {entity layer: bool per entity, True = pruned}
    results.json            written last, once the run is finished

The partition is rebuilt from the config exactly as the run built it (``PruningRun.partition``, on the
CPU), so the masks index it, and the training split is the one the run trained on (its recorded
validation split held out; a run from before ``data.validation`` existed held out nothing); a folder that lacks a file or an unfinished run is refused with a
``MissingInput`` naming the argument, the folder and what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from spr_core.errors import MissingInput

from ..layer_entities import LayerEntities
from .checkpoint import load_checkpoint
from .config import load_config
from .pipeline import CHECKPOINTS, PruningRun

#: the files of a finished run folder this reader needs
REQUIRED = ("config.yaml", "results.json", "reference_model.pt", f"{CHECKPOINTS}/last.pt")
#: the run-time settings replaced when a run is read back: CPU, no compilation, no augmentation
READ_BACK = ["runtime.device=cpu", "runtime.compile=false", "runtime.bf16=false", "runtime.channels_last=false",
             "data.augment=false", "data.loader=torch"]


@dataclass
class FinishedRun:
    """A finished run, read back (module docstring).

    Attributes
    ----------
    folder : Path
    config : PruneConfig
        The run's config (with ``READ_BACK``'s settings).
    model : nn.Module
        The dense reference model, in eval mode on the CPU.
    layers : list of LayerEntities
        The run's partition, built on ``model``.
    masks : dict
        {entity layer: bool tensor, True = pruned}.
    train : Dataset
        The training split, without augmentation (calibration data).
    example : torch.Tensor
        One input batch.
    """

    folder: Path
    config: object
    model: nn.Module
    layers: list[LayerEntities]
    masks: dict
    train: Dataset
    example: torch.Tensor


def load_finished_run(folder, *, argument: str = "RUN_DIR") -> FinishedRun:
    """Read the finished run in ``folder`` (module docstring).

    Parameters
    ----------
    folder : str or Path
    argument : str
        How the caller names ``folder`` in its messages (a command-line argument).

    Returns
    -------
    FinishedRun

    Raises
    ------
    MissingInput
        ``folder`` is not a folder, lacks a file of ``REQUIRED``, or holds a run that did not finish
        (or whose masks do not fit the partition its config builds).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInput(f"{argument}: {folder} is not a folder (expected a finished `spr-or prune` run folder)")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        hint = (" (a run without a dense reference: reference.epochs = 0 and no reference_model)"
                if missing == ["reference_model.pt"] else "")
        raise MissingInput(f"{argument}: {folder} is not a finished `spr-or prune` run folder: it has no "
                           f"{', '.join(missing)}{hint}")
    state = load_checkpoint(folder / CHECKPOINTS / "last.pt")
    if not isinstance(state, dict) or state.get("phase") != "done" or not state.get("masks"):
        raise MissingInput(f"{argument}: the run in {folder} did not finish ({CHECKPOINTS}/last.pt is at phase "
                           f"{state.get('phase') if isinstance(state, dict) else None!r}, not 'done' with masks)")
    config = load_config(folder / "config.yaml", READ_BACK)
    run = PruningRun(config, folder, show_progress=False)
    run.keep_split(state.get("split"))  # the training split the run had (a run from before the split: all of it)
    run.model.load_state_dict(torch.load(folder / "reference_model.pt", map_location="cpu", weights_only=True))
    run.model.eval()
    layers = run.partition()
    masks = {name: torch.as_tensor(mask, dtype=torch.bool) for name, mask in state["masks"].items()}
    if {layer.name: layer.n_entities for layer in layers} != {name: len(mask) for name, mask in masks.items()}:
        raise MissingInput(f"{argument}: the masks in {folder / CHECKPOINTS / 'last.pt'} do not fit the entities that "
                           "its config.yaml builds (a run of another version of spr-or?)")
    return FinishedRun(folder, config, run.model, layers, masks, run.data.train, run.example)
