"""The convenience options of ``spr-or prune`` and ``spr-or sweep``, declared once, and the config
overrides (``key=value``) they stand for: ``--device cuda`` is ``runtime.device=cuda``.

``RUN_FLAGS`` are shared by both commands (in a sweep they apply to every run); ``LOADER_FLAGS`` are
``spr-or prune``'s only (``spr-or sweep --workers`` is the number of runs at once, not a config key).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class RunFlag:
    """One option and the config key it sets: a switch (``value_type`` None) sets the key to true,
    an option with a value sets it to that value."""

    flag: str
    key: str
    help: str
    value_type: type | None = None
    dest: str | None = None   # the attribute of the parsed arguments (default: from ``flag``)

    @property
    def attribute(self) -> str:
        """Where argparse stores the option's value."""
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser) -> None:
        """Declare the option on ``parser`` (a parser or an argument group)."""
        help_text = f"{self.help} ({self.key})"
        if self.value_type is None:
            parser.add_argument(self.flag, dest=self.attribute, action="store_true", help=help_text)
        else:
            parser.add_argument(self.flag, dest=self.attribute, type=self.value_type, default=None, help=help_text,
                                metavar=self.flag.lstrip("-").replace("-", "_").upper())

    def override(self, args: argparse.Namespace) -> str | None:
        """The ``key=value`` override the parsed option stands for, or None where it was not given."""
        value = getattr(args, self.attribute, None)
        if value is None or value is False:
            return None
        return f"{self.key}={json.dumps(value)}"  # JSON is YAML: strings quoted, true, numbers


RUN_FLAGS = (
    RunFlag("--data-dir", "data.data_dir", "local folder of CIFAR-10/100 or ImageNet", str),
    RunFlag("--device", "runtime.device", "cpu, cuda or cuda:N", str),
    RunFlag("--bf16", "runtime.bf16", "bfloat16 autocast"),
    RunFlag("--channels-last", "runtime.channels_last", "channels_last memory format"),
    RunFlag("--compile", "runtime.compile", "torch.compile the training steps"),
)
LOADER_FLAGS = (
    RunFlag("--workers", "data.num_workers", "DataLoader workers", int, dest="loader_workers"),
    RunFlag("--pin-memory", "data.pin_memory", "pinned host memory"),
)


def add_run_flags(parser: argparse.ArgumentParser, *, title: str = "run options",
                  loader_flags: bool = True) -> None:
    """Declare ``RUN_FLAGS`` (and ``LOADER_FLAGS`` unless ``loader_flags`` is False) and ``--quiet`` in
    an argument group of ``parser`` titled ``title``."""
    group = parser.add_argument_group(title)
    for flag in RUN_FLAGS + (LOADER_FLAGS if loader_flags else ()):
        flag.add_to(group)
    group.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def flag_overrides(args: argparse.Namespace) -> list[str]:
    """The config overrides the options of ``add_run_flags`` given in ``args`` stand for, in their order."""
    return [override for flag in RUN_FLAGS + LOADER_FLAGS if (override := flag.override(args)) is not None]
