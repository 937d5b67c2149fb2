"""Wall time of a study sweep with and without the disk cache of generated data
(spr_or/data/dataset_cache.py), on a slice of a real study config, both arms in one process.

Without the cache every run of an MNIST-1D sweep regenerates the 5,000 sequences (about 4-5 s of
CPU, more than a short target run's training). The slice keeps the study's schedule and model and
takes a few of its points (``--methods``, the first ``--lams`` of each method's grid) on seeds the
study never ran; each seed set runs the two arms back to back, in alternating order, into fresh
folders, and the final accuracies of the two arms are compared run by run (the cache must change
nothing but time).

    python benchmarks/sweep_data_cache.py --seed-sets 5 6 7 --out runs/bench-sweep-data-cache
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from spr_or.atomic_files import write_json_atomically
from spr_or.data.dataset_cache import CACHE_DIR_VARIABLE


def sliced_config(config: dict, methods: list[str], lams: int, seed: int) -> dict:
    """The study config restricted to ``methods`` and the first ``lams`` lams of each, one seed."""
    kept, first_lams = [], {}
    for point in config["points"]:
        method = point.get("method")
        if method not in methods:
            continue
        grid = first_lams.setdefault(method, [])
        lam = point.get("regularizer.lam")
        if lam not in grid and len(grid) < lams:
            grid.append(lam)
        if lam in grid:
            kept.append(point)
    missing = sorted(set(methods) - set(first_lams))
    if missing:
        raise SystemExit(f"--methods: {', '.join(missing)} not in the config's points")
    return {**config, "name": f"{config['name']}_slice_seed{seed}", "points": kept, "seeds": [seed]}


def run_sweep(config_path: Path, out: Path, workers: int, cache: str) -> float:
    """Seconds of one ``spr-or sweep`` with the cache at ``cache`` ("off": none)."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, **{CACHE_DIR_VARIABLE: cache, "OPENBLAS_NUM_THREADS": "1"})
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spr_or.cli", "sweep", str(config_path), "--engine", "pool",
                    "--workers", str(workers), "--out", str(out), "--quiet"], check=True, env=env)
    return time.perf_counter() - start


def final_accuracies(sweep_out: Path) -> dict:
    """run name -> (final test accuracy, final validation accuracy)."""
    return {p.parent.name: (r["final_accuracy"], r["final_validation_accuracy"])
            for p in sorted((sweep_out / "runs").glob("*/results.json")) for r in [json.loads(p.read_text())]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/study2_mnist1d.yaml")
    parser.add_argument("--methods", default="spr_exact_prox,l1", help="comma-separated method labels")
    parser.add_argument("--lams", type=int, default=2, help="the first LAMS lams of each method's grid")
    parser.add_argument("--seed-sets", type=int, nargs="+", default=[5, 6, 7], help="one seed per set")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-sweep-data-cache"))
    args = parser.parse_args()
    if args.lams < 1:
        raise SystemExit(f"--lams must be >= 1, got {args.lams}")

    config = yaml.safe_load(Path(args.config).read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    cache_dir = args.out / "cache"
    subprocess.run([sys.executable, "-c", "from spr_or.data.embedded import mnist1d_datasets; mnist1d_datasets()"],
                   check=True, env=dict(os.environ, **{CACHE_DIR_VARIABLE: str(cache_dir)}))  # warm it
    rows = []
    for index, seed in enumerate(args.seed_sets):
        folder = args.out / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        config_path = folder / "sweep.yaml"
        config_path.write_text(yaml.safe_dump(sliced_config(config, args.methods.split(","), args.lams, seed)))
        arms = ["off", "cached"] if index % 2 == 0 else ["cached", "off"]
        seconds = {arm: run_sweep(config_path, folder / arm, args.workers,
                                  "off" if arm == "off" else str(cache_dir)) for arm in arms}
        cached_accuracies = final_accuracies(folder / "cached")
        same = final_accuracies(folder / "off") == cached_accuracies
        runs = len(cached_accuracies)
        rows.append({"seed": seed, "runs": runs, "seconds_without_cache": seconds["off"],
                     "seconds_with_cache": seconds["cached"], "ratio": seconds["off"] / seconds["cached"],
                     "saved_per_run_worker_s": (seconds["off"] - seconds["cached"]) * args.workers / runs,
                     "identical_accuracies": same})
        print(json.dumps(rows[-1]), flush=True)
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
               "median_ratio": statistics.median(r["ratio"] for r in rows),
               "median_saved_per_run_worker_s": statistics.median(r["saved_per_run_worker_s"] for r in rows)}
    write_json_atomically(args.out / "bench.json", summary)
    print(f"median ratio (without / with cache) {summary['median_ratio']:.2f}; "
          f"median worker-seconds saved per run {summary['median_saved_per_run_worker_s']:.2f}")


if __name__ == "__main__":
    main()
