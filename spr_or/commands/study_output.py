"""What every study command leaves in ``--out``: its plots, a plain-text table and a results JSON,
all written atomically, with the table printed."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..atomic_files import make_results_dir, write_json_atomically, write_text_atomically


def add_output_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options every study command shares: --out, --no-plots, --quiet."""
    parser.add_argument("--out", type=Path, default=Path(default_out), help=f"output folder (default {default_out})")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_study(out: Path, name: str, *, study, table, plot_all=None) -> Path:
    """Run a study command: create ``out``, run ``study()``, draw the plots (unless ``plot_all`` is
    None), print the table and write ``{name}_table.txt`` and ``{name}.json`` (with the seconds taken)
    into ``out``.

    Parameters
    ----------
    out : Path
        The output folder (``--out``); ``ResultsNotWritten`` if it cannot be created or written.
    name : str
        The stem of the files written.
    study : callable
        ``study() -> dict`` holding ``"summary"`` and ``"instances"``.
    table : callable
        ``table(summary) -> str``: the plain-text table.
    plot_all : callable or None
        ``plot_all(out, instances) -> {name: path}``, or None for no plots.

    Returns
    -------
    Path
        The JSON written.
    """
    started = time.perf_counter()
    make_results_dir(out)
    results = study()
    if plot_all is not None:
        results["plots"] = plot_all(out, results["instances"])
    results["seconds"] = time.perf_counter() - started
    text = table(results["summary"])
    print(text)
    write_text_atomically(out / f"{name}_table.txt", text + "\n")
    path = write_json_atomically(out / f"{name}.json", results)
    plots = results.get("plots", {})
    print(f"\nwrote {path}" + (" and plots " + ", ".join(Path(p).name for p in plots.values()) if plots else ""))
    return path
