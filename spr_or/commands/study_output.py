"""What every study command leaves in ``--out``: its plots, a plain-text table and a results JSON,
all written atomically, with the table printed."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..atomic_files import write_json_atomically, write_text_atomically


def add_output_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options every study command shares: --out, --no-plots, --quiet."""
    parser.add_argument("--out", type=Path, default=Path(default_out), help=f"output folder (default {default_out})")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def finish_study(out: Path, name: str, results: dict, table: str, plot_all=None, started: float | None = None) -> Path:
    """Draw the plots (unless ``plot_all`` is None), print ``table`` and write ``{name}_table.txt`` and
    ``{name}.json`` into ``out``; returns the JSON's path."""
    if plot_all is not None:
        results["plots"] = plot_all(out, results["instances"])
    if started is not None:
        results["seconds"] = time.perf_counter() - started
    print(table)
    write_text_atomically(out / f"{name}_table.txt", table + "\n")
    path = write_json_atomically(out / f"{name}.json", results)
    plots = results.get("plots", {})
    print(f"\nwrote {path}" + (" and plots " + ", ".join(Path(p).name for p in plots.values()) if plots else ""))
    return path
