"""``spr-or report``: a sweep directory into tables shaped like the paper's (setting, accuracy, pruned
parameters, %) with the paper's published figures beside them (experiments/paper-results.csv,
Tables 1-17), and a Pareto plot of accuracy against pruned parameters with the paper's points.

Seeds of one setting are aggregated as mean and standard deviation (and counted).

Comparison studies (points labelled "method"): the frontier points are SELECTED on validation
accuracy only (``select_frontier``: per method and seed, the Pareto set of (final validation
accuracy, conv parameters removed) over the method's settings, lam and target among them); the table
and plot then show the TEST accuracy of the selected runs. Runs without a validation split (sweeps
from before ``data.validation``) are selected on test accuracy, and the table says so."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spr_core.errors import InvalidArgument, MissingInput

from ..atomic_files import save_figure_atomically, write_text_atomically
from . import frontier_statistics
from .comparison_plot import paired_difference_plot
from .markdown_sections import replace_section

PAPER_RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "paper-results.csv"
PAPER_MODEL = {"resnet18_cifar": "resnet18", "resnet50_cifar": "resnet50", "vgg16_bn_cifar": "vgg16",
               "resnet18_imagenet": "resnet18"}
METRICS = ("final_accuracy", "accuracy_after_pruning", "dense_accuracy", "params_pruned_paper",
           "params_pruned_paper_percent", "params_removed_percent", "conv_params_removed_percent",
           "flops_removed_percent", "final_validation_accuracy", "validation_accuracy_after_pruning",
           "dense_validation_accuracy", "latency_speedup_batch1")
#: the reference method of the paired comparison at fixed removal levels (else the first method)
REFERENCE_METHOD = "spr_exact_prox"
#: further references, each its own table where the study has it: the paper's subgradient training
#: with the exact closed form, against which the printed and public-code forms are read
SECOND_REFERENCES = ("spr_exact",)
#: what the frontier selection reads: the validation accuracy and the conv parameters removed
SELECTED_ON = "final_validation_accuracy"
REMOVED = "conv_params_removed_percent"
#: the fallback of runs without a validation split (old sweeps), never silent
TEST_FALLBACK = "final_accuracy"
FALLBACK_NOTE = "no validation split: selected on test"


def paper_rows(model: str, dataset: str, *, path=PAPER_RESULTS) -> list[dict]:
    """The paper's published rows for this model and dataset (every table, every method).

    Parameters
    ----------
    model : str
        A registry model name (``resnet18_cifar`` is the paper's ``resnet18``, etc.).
    dataset : str
        A dataset name as in the configs (``cifar10``, ...).
    path : str or Path
        The CSV of the paper's figures (default experiments/paper-results.csv).

    Returns
    -------
    list of dict
        The CSV's rows (strings, keyed by its header); empty if the file is absent.
    """
    if not Path(path).is_file():
        return []
    name = PAPER_MODEL.get(model, model)
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if row["model"] == name and row["dataset"] == dataset]


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _read_json(path: Path, what: str):
    """The JSON document of ``path``; ``InvalidArgument`` naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{path}: not a valid {what} (invalid JSON: {err}); it may be truncated: delete it "
                              "and run `spr-or sweep` again with the same --out") from None
    except OSError as err:
        raise MissingInput(f"{path}: cannot be read ({err.strerror or err})") from None


def _read_results(path: Path) -> dict:
    """One run's results.json, checked: a dict with the model, the dataset and numeric METRICS."""
    data = _read_json(path, "results.json")
    if not isinstance(data, dict) or not {"model", "dataset"} <= set(data):
        held = f"a {type(data).__name__}" + (f" with keys {sorted(data)[:6]}" if isinstance(data, dict) else "")
        raise InvalidArgument(f"{path}: holds {held}, not the results of a `spr-or prune` run (no 'model' and "
                              "'dataset'); delete it and run `spr-or sweep` again with the same --out to redo the run")
    for key in METRICS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidArgument(f"{path}: {key} must be a number or null; got {value!r}")
    return data


def _batch1_speedup(latency) -> float | None:
    """The CPU latency speedup at batch 1 (masked / compact model) of a results.json's ``latency_cpu``
    table, None where the run did not time batch 1."""
    entry = latency.get("1") if isinstance(latency, dict) else None
    speedup = entry.get("speedup") if isinstance(entry, dict) else None
    return float(speedup) if isinstance(speedup, (int, float)) and not isinstance(speedup, bool) else None


def _read_sweep(sweep_dir: Path) -> dict:
    """``sweep.json`` of a sweep folder, checked: a dict whose ``runs`` are {name, settings}."""
    described = sweep_dir / "sweep.json"
    if not described.is_file():
        raise MissingInput(f"sweep_dir: {sweep_dir} has no sweep.json; run `spr-or sweep CONFIG --out "
                                f"{sweep_dir}` first")
    sweep = _read_json(described, "sweep.json")
    runs = sweep.get("runs") if isinstance(sweep, dict) else None
    if not isinstance(runs, list) or not all(isinstance(r, dict) and isinstance(r.get("name"), str)
                                             and isinstance(r.get("settings"), dict) for r in runs):
        raise InvalidArgument(f"{described}: not a sweep description (expected {{'name': ..., 'runs': [{{'name': ..., "
                              "'settings': {...}}, ...]}); run `spr-or sweep` again with the same --out")
    sweep.setdefault("name", sweep_dir.name)
    return sweep


def gather(sweep_dir) -> tuple[dict, list[dict]]:
    """What a sweep folder holds.

    Parameters
    ----------
    sweep_dir : str or Path
        A folder written by ``spr-or sweep`` (its ``sweep.json`` and ``runs/*/results.json``).

    Returns
    -------
    (dict, list of dict)
        The sweep's description (``sweep.json``) and one row per finished run: its name, settings
        and the results of ``METRICS``, model and dataset.

    Raises
    ------
    MissingInput
        ``sweep_dir`` has no ``sweep.json``.
    InvalidArgument
        ``sweep.json`` or a run's ``results.json`` is not valid JSON or not what ``spr-or sweep``
        writes (the message names the file).
    """
    sweep_dir = Path(sweep_dir)
    sweep = _read_sweep(sweep_dir)
    rows = []
    for run in sweep["runs"]:
        results = sweep_dir / "runs" / run["name"] / "results.json"
        if results.is_file():
            data = {**_read_results(results)}
            data["latency_speedup_batch1"] = _batch1_speedup(data.get("latency_cpu"))
            rows.append({"name": run["name"], **run["settings"], **{k: data.get(k) for k in METRICS},
                         "model": data["model"], "dataset": data["dataset"]})
    return sweep, rows


def incomplete_runs(sweep_dir, sweep: dict) -> dict:
    """The runs of the sweep that have no results: ``failed`` ({name: the last line of its error},
    the runs ``sweep_status.json`` records as failed) and ``missing`` (the other runs without a
    ``results.json``: not run yet, or interrupted).

    Raises
    ------
    InvalidArgument
        ``sweep_status.json`` is not valid JSON or not a mapping of run names to outcomes.
    """
    sweep_dir = Path(sweep_dir)
    status_path = sweep_dir / "sweep_status.json"
    status = _read_json(status_path, "sweep_status.json") if status_path.is_file() else {}
    if not isinstance(status, dict) or not all(isinstance(v, dict) for v in status.values()):
        raise InvalidArgument(f"{status_path}: not a sweep status (expected {{run name: {{'status': ...}}}}); delete "
                              "it: `spr-or sweep` writes it again")
    failed, missing = {}, []
    for run in sweep["runs"]:
        name = run["name"]
        outcome = status.get(name, {})
        if outcome.get("status") == "failed":
            last = str(outcome.get("error") or "").strip().splitlines()[-1:] or ["(no output)"]
            failed[name] = last[0]
        elif not (sweep_dir / "runs" / name / "results.json").is_file():
            missing.append(name)
    return {"failed": failed, "missing": missing}


def incomplete_markdown(incomplete: dict) -> str:
    """The section of the report listing the failed and missing runs ("" when there are none)."""
    if not incomplete["failed"] and not incomplete["missing"]:
        return ""
    lines = ["", "## Missing and failed runs", "",
             f"{len(incomplete['failed'])} failed, {len(incomplete['missing'])} missing (no results.json): the "
             "tables above leave them out.", ""]
    lines += [f"- failed: `{name}`: {error}" for name, error in incomplete["failed"].items()]
    lines += [f"- missing: `{name}`" for name in incomplete["missing"]]
    return "\n".join(lines) + "\n"


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds of each setting (the settings without the seed).

    Parameters
    ----------
    rows : list of dict
        Rows of ``gather``.

    Returns
    -------
    list of dict
        One entry per setting: its settings, ``seeds`` (how many runs), and for each metric of
        ``METRICS`` its mean (None if no run has it) and ``<metric>_std`` (0 for a single run).
    """
    groups = defaultdict(list)
    for row in rows:  # values as JSON, so lists (a grid over milestones) group too
        setting = tuple((k, json.dumps(v)) for k, v in row.items() if k not in METRICS and k not in ("name", "seed"))
        groups[setting].append(row)
    out = []
    for setting, members in groups.items():
        entry = {k: json.loads(v) for k, v in setting}
        entry["seeds"] = len(members)
        for metric in METRICS:
            values = [m[metric] for m in members if m[metric] is not None]
            entry[metric] = statistics.fmean(values) if values else None
            entry[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        out.append(entry)
    return out


def _setting_label(entry: dict) -> str:
    skip = set(METRICS) | {f"{m}_std" for m in METRICS} | {"model", "dataset", "seeds"}
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in entry.items() if k not in skip)


def _paper_match(entry: dict, paper: list[dict], table=None, setting: str = "") -> dict | None:
    """The paper's SPR row with the same lambda, alpha (and lr when both have one), from the sweep's
    own table first; ``setting`` selects rows such as "before fine-tuning" (Table 17)."""
    lam, alpha = entry.get("regularizer.lam"), entry.get("regularizer.alpha")
    lr = entry.get("train.lr")
    candidates = [row for row in paper if row["method"] == "SPR" and row["setting"] in (setting, "ablation")
                  and (setting or row["setting"] != "before fine-tuning")]
    candidates.sort(key=lambda row: row["table"] != str(table))
    for row in candidates:
        if _number(row["lambda"]) == lam and _number(row["alpha"]) == alpha and (
                lr is None or _number(row["lr"]) is None or _number(row["lr"]) == lr):
            return row
    return None


def _fmt(value, spec=".2f"):
    return "-" if value is None else format(value, spec)


def markdown_table(sweep: dict, entries: list[dict], *, paper: list[dict]) -> str:
    """The sweep's settings (largest pruning first) beside the paper's matching SPR rows, then the
    paper's other figures for this model and dataset, as markdown.

    Parameters
    ----------
    sweep : dict
        The sweep's description (``gather``).
    entries : list of dict
        The settings of ``aggregate``.
    paper : list of dict
        The paper's rows (``paper_rows``).

    Returns
    -------
    str
        The markdown text.
    """
    lines = [f"# {sweep['name']}" + (f" (the paper's Table {sweep['table']})" if sweep.get("table") else ""), ""]
    if sweep.get("description"):
        lines += [sweep["description"], ""]
    lines += [("| setting | seeds | accuracy (%) | before fine-tuning (%) | pruned params (paper's count) | pruned % "
               "| removed % (compaction) | paper: accuracy | paper: pruned params | paper: pruned % |"),
              "|---|---|---|---|---|---|---|---|---|---|"]
    before_rows = any(r["setting"] == "before fine-tuning" for r in paper) and sweep.get("table") == 17
    if before_rows:
        lines[-2] = lines[-2] + " paper: before fine-tuning (%) |"
        lines[-1] = lines[-1] + "---|"
    for e in sorted(entries, key=lambda e: -(e["params_pruned_paper_percent"] or 0)):
        match = _paper_match(e, paper, sweep.get("table"))
        before = _paper_match(e, paper, sweep.get("table"), "before fine-tuning") if before_rows else None
        spread = f" ± {e['final_accuracy_std']:.2f}" if e["seeds"] > 1 else ""
        lines.append(
            f"| {_setting_label(e)} | {e['seeds']} | {_fmt(e['final_accuracy'])}{spread} | "
            f"{_fmt(e['accuracy_after_pruning'])} | {_fmt(e['params_pruned_paper'], ',.0f')} | "
            f"{_fmt(e['params_pruned_paper_percent'])} | {_fmt(e['params_removed_percent'])} | "
            f"{match['top1'] if match else '-'} | {match['pruned_params'] if match else '-'} | "
            f"{match['pruned_pct'] if match else '-'} |" + (f" {before['top1'] if before else '-'} |" if before_rows else ""))
    others = [r for r in paper if not (r["method"] == "SPR" and not r["setting"])]
    if others:
        lines += ["", "The paper's other figures for this model and dataset (its comparison tables):", "",
                  "| table | method | setting | accuracy (%) | pruned params | pruned % | note |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['table']} | {r['method']} | {r['setting']} | {r['top1']} | {r['pruned_params'] or '-'} | "
                  f"{r['pruned_pct'] or '-'} | {r['note']} |" for r in others]
    return "\n".join(lines) + "\n"


def _method_labels(entries: list[dict]) -> list[str]:
    """Per entry: its method, plus the settings that vary between entries of that method other than
    the target (e.g. a lam grid), so cells and curves of different settings stay apart."""
    skip = set(METRICS) | {f"{m}_std" for m in METRICS} | {"seeds", "method", "prune.target"}
    varying = defaultdict(set)
    for e in entries:
        for k, v in e.items():
            if k not in skip:
                varying[(e["method"], k)].add(json.dumps(v))
    labels = []
    for e in entries:
        extra = [f"{k.split('.')[-1]}={e[k]}" for k in e if k not in skip and len(varying[(e["method"], k)]) > 1]
        labels.append(e["method"] + (f" ({', '.join(extra)})" if extra else ""))
    return labels


def method_table(entries: list[dict]) -> str:
    """Comparison studies (points labelled "method", a grid over prune.target): one row per method,
    one column per target sparsity; cells: final accuracy mean ± std over seeds, and the share of the
    model's conv parameters compaction removed."""
    targets = sorted({e["prune.target"] for e in entries})
    labels = _method_labels(entries)
    methods = list(dict.fromkeys(labels))
    cell = {(label, e["prune.target"]): e for label, e in zip(labels, entries)}
    dense = [e["dense_accuracy"] for e in entries if e["dense_accuracy"] is not None]
    lines = [f"Dense reference accuracy: {statistics.fmean(dense):.2f}% (mean over the runs' references).", "",
             "| method | " + " | ".join(f"target {100 * t:.0f}%" for t in targets) + " |",
             "|---|" + "---|" * len(targets)]
    for m in methods:
        cells = []
        for t in targets:
            e = cell.get((m, t))
            cells.append("-" if e is None else f"{e['final_accuracy']:.2f} ± {e['final_accuracy_std']:.2f} "
                                               f"({e['conv_params_removed_percent']:.0f}% conv removed, n={e['seeds']})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pareto_front(points: list[tuple]) -> list[int]:
    """The indices of the points (a, r) that no other point dominates (another with a' >= a and r' >= r,
    one of them strictly): the Pareto set when both are maximised. Equal points are all kept."""
    front = []
    for i, (a, r) in enumerate(points):
        if not any(a2 >= a and r2 >= r and (a2 > a or r2 > r) for j, (a2, r2) in enumerate(points) if j != i):
            front.append(i)
    return front


def select_frontier(rows: list[dict]) -> list[dict]:
    """The runs selected per method and seed: the Pareto set of (``final_validation_accuracy``,
    ``conv_params_removed_percent``) over the runs of that method and seed (every lam, target and
    other setting of the method). Only those two values (and ``method``, ``seed``) are read: no test
    accuracy takes part, so permuting the test accuracies changes nothing selected.

    A (method, seed) group where a run has no validation accuracy (a run from before the validation
    split existed) is selected on ``final_accuracy`` (test) instead, marked ``selected_on: "test"``.

    Parameters
    ----------
    rows : list of dict
        Rows of ``gather`` (one per run) with a "method".

    Returns
    -------
    list of dict
        One per selected run, by method, seed and removed share: ``method``, ``seed``, ``row`` (the
        run's row itself), ``selected_on`` ("validation" or "test").
    """
    groups = defaultdict(list)
    for row in rows:
        groups[(row["method"], row.get("seed"))].append(row)
    selected = []
    for (method, seed), members in groups.items():
        members = [m for m in members if m.get(REMOVED) is not None]
        on_validation = all(m.get(SELECTED_ON) is not None for m in members)
        key = SELECTED_ON if on_validation else TEST_FALLBACK  # the fallback: old runs, flagged in the table
        members = [m for m in members if m.get(key) is not None]
        front = pareto_front([(m[key], m[REMOVED]) for m in members])
        for i in sorted(front, key=lambda i: members[i][REMOVED]):
            selected.append({"method": method, "seed": seed, "row": members[i],
                             "selected_on": "validation" if on_validation else "test"})
    return selected


def _row_setting(row: dict, varying: set) -> str:
    return ", ".join(f"{k.split('.')[-1]}={row[k]}" for k in row if k in varying) or "-"


def frontier_table(rows: list[dict]) -> str:
    """The runs ``select_frontier`` selects, per method and seed, with their validation accuracy (what
    selected them) and their TEST accuracy (what is reported), as markdown; groups selected on test
    (no validation split) are flagged in their rows and in a note."""
    selected = select_frontier(rows)
    skip = set(METRICS) | {"name", "seed", "method", "model", "dataset"}
    varying = {k for k in dict.fromkeys(k for r in rows for k in r) if k not in skip
               and len({json.dumps(r.get(k)) for r in rows}) > 1}
    lines = ["## Validation-selected frontier", "",
             "Per method and seed, the runs on the Pareto set of (final VALIDATION accuracy, conv parameters removed "
             "by compaction) over all of the method's settings; the selection reads the validation accuracy only. "
             "The accuracy reported is the TEST accuracy of the selected runs.", "",
             "| method | seed | setting | conv removed (%) | FLOPs removed (%) | CPU speedup, batch 1 "
             "| validation accuracy (%) (selects) | TEST accuracy (%) at the selected run | selected on |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in selected:
        r = s["row"]
        on = "validation" if s["selected_on"] == "validation" else f"test ({FALLBACK_NOTE})"
        lines.append(f"| {s['method']} | {s['seed']} | {_row_setting(r, varying)} | {_fmt(r[REMOVED], '.1f')} | "
                     f"{_fmt(r.get('flops_removed_percent'), '.1f')} | {_fmt(r.get('latency_speedup_batch1'), '.2f')} | "
                     f"{_fmt(r.get(SELECTED_ON))} | {_fmt(r.get(TEST_FALLBACK))} | {on} |")
    fallback = sorted({(str(s["method"]), str(s["seed"])) for s in selected if s["selected_on"] == "test"})
    if fallback:
        lines += ["", f"**Note: {FALLBACK_NOTE}** for {len(fallback)} method/seed group(s) whose runs have no "
                      "validation accuracy (made before data.validation existed): "
                  + ", ".join(f"{m} (seed {sd})" for m, sd in fallback) + "."]
    return "\n".join(lines) + "\n"


def removal_comparison(rows: list[dict], levels=frontier_statistics.REMOVAL_LEVELS,
                       reference: str | None = None) -> tuple[str, list[dict]]:
    """The reference method (``reference``, else REFERENCE_METHOD, else the first) and
    ``paired_comparison``'s rows: test accuracy at ``levels`` on each seed's validation-selected
    frontier, paired against the reference."""
    table = frontier_statistics.accuracies_at_levels(select_frontier(rows), levels, removed=REMOVED,
                                                     accuracy=TEST_FALLBACK)
    reference = reference or (REFERENCE_METHOD if REFERENCE_METHOD in table else next(iter(table)))
    return reference, frontier_statistics.paired_comparison(table, reference, levels)


def removal_level_tables(rows: list[dict], levels=frontier_statistics.REMOVAL_LEVELS) -> str:
    """``removal_level_table`` against the reference, then against each SECOND_REFERENCES method the
    study has (the paper's training: does the closed form matter once every form is tuned?)."""
    methods = {row["method"] for row in rows}
    return removal_level_table(rows, levels) + "".join(
        "\n" + removal_level_table(rows, levels, reference=second) for second in SECOND_REFERENCES
        if second in methods and second != REFERENCE_METHOD and REFERENCE_METHOD in methods)


def removal_level_table(rows: list[dict], levels=frontier_statistics.REMOVAL_LEVELS,
                        reference: str | None = None) -> str:
    """Test accuracy at fixed removal levels on each seed's validation-selected frontier, and the paired
    difference to ``reference`` (else REFERENCE_METHOD, else the first method) with its bootstrap 95%
    interval (spr_or/sweeps/frontier_statistics.py), as markdown."""
    reference, compared = removal_comparison(rows, levels, reference)
    return ("## TEST accuracy at fixed removal levels, paired against " + f"{reference}\n\n"
            "Per seed, the test accuracy of the validation-selected frontier interpolated at each share of conv "
            "parameters removed (below the frontier's first run: that run's accuracy, as it removes more; above its "
            "last: \"not reached\", no extrapolation); mean over the seeds that reach it (n). Against "
            f"{reference}: the mean paired difference (same seed, same dense reference) and its percentile-bootstrap "
            f"95% interval; a method **wins** or **loses** only where the interval excludes 0, and gets no verdict "
            f"with fewer than {frontier_statistics.MIN_PAIRED_SEEDS} paired seeds.\n\n"
            + frontier_statistics.comparison_markdown(compared, reference, levels))


def pareto_plot(sweep: dict, entries: list[dict], *, paper: list[dict], path, rows: list[dict] | None = None) -> None:
    """Accuracy against pruned parameters, with the paper's points (or, for a comparison study, one
    frontier per method), saved to ``path``.

    Parameters
    ----------
    sweep : dict
        The sweep's description (``gather``).
    entries : list of dict
        The settings of ``aggregate``.
    paper : list of dict
        The paper's rows (``paper_rows``).
    path : str or Path
        The PNG to write.
    rows : list of dict, optional
        A comparison study's runs (``gather``): its plot shows the runs ``select_frontier`` selects on
        validation accuracy, at their TEST accuracy, one line per method and seed (dashed: selected on
        test, no validation split).
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if all("method" in e for e in entries):  # a comparison study: one validation-selected frontier per method
        selected = select_frontier(rows if rows is not None else entries)
        methods = list(dict.fromkeys(s["method"] for s in selected))
        fallback = False
        for i, method in enumerate(methods):
            seeds = list(dict.fromkeys(s["seed"] for s in selected if s["method"] == method))
            for k, seed in enumerate(seeds):
                mine = [s for s in selected if s["method"] == method and s["seed"] == seed]
                on_test = mine[0]["selected_on"] == "test"
                fallback |= on_test
                ax.plot([s["row"][REMOVED] for s in mine], [s["row"][TEST_FALLBACK] for s in mine],
                        "o--" if on_test else "o-", ms=4, color=f"C{i % 10}", alpha=0.8,
                        label=(method + (f" ({FALLBACK_NOTE})" if on_test else "")) if k == 0 else None)
        ax.set(xlabel="conv parameters removed by compaction (%)",
               ylabel="TEST accuracy (%) of the selected runs",
               title=f"{sweep['name']}: runs selected on validation accuracy (one line per seed)"
               + ("\ndashed: no validation split, selected on test" if fallback else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure_atomically(fig, path)
        return
    xs = [e["params_pruned_paper_percent"] for e in entries]
    ys = [e["final_accuracy"] for e in entries]
    errs = [e["final_accuracy_std"] for e in entries]
    ax.errorbar(xs, ys, yerr=errs, fmt="o", color="tab:blue", capsize=3, label="this toolkit (mean ± std over seeds)")
    methods = sorted({r["method"] for r in paper if _number(r["pruned_pct"]) is not None and r["method"] != "dense"})
    markers = "s^vD<>ph*"
    for i, method in enumerate(methods):
        pts = [(_number(r["pruned_pct"]), _number(r["top1"])) for r in paper
               if r["method"] == method and _number(r["pruned_pct"]) is not None and r["setting"] != "before fine-tuning"]
        if pts:
            ax.scatter(*zip(*pts), marker=markers[i % len(markers)], facecolors="none",
                       edgecolors="tab:red" if method == "SPR" else f"C{i + 2}", label=f"paper: {method}")
    dense = [_number(r["top1"]) for r in paper if r["method"] == "dense"]
    if dense:
        ax.axhline(dense[0], color="gray", ls=":", label="paper: dense")
    ax.set(xlabel="pruned parameters (%)", ylabel="top-1 accuracy (%)", title=f"{sweep['name']}: accuracy vs pruning")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomically(fig, path)


def _into_body(sweep_dir: Path, out: Path, into: Path, rows: list[dict], incomplete: dict, section: str | None,
               tables: str) -> str:
    """The section ``--into`` writes: how it was made, the removal-level table and the two plots, with
    links (relative to ``into``) to the full frontier and the CSV of every run."""
    def link(name):
        return os.path.relpath(out / name, into.resolve().parent)

    absent = len(incomplete["failed"]) + len(incomplete["missing"])
    command = f"spr-or report {sweep_dir} --out {out} --into {into}" + (f" --section {section}" if section else "")
    return (f"Generated by `{command}` from {len(rows)} runs"
            + (f" ({absent} runs of the sweep without results are left out, listed in [the table]({link('table.md')}))"
               if absent else "") + ". "
            f"Every selected run: [{link('methods.md')}]({link('methods.md')}); every run: "
            f"[{link('runs.csv')}]({link('runs.csv')}).\n\n"
            + tables.replace("## ", "### ")
            + f"\n![paired differences]({link('differences.png')})\n\n![frontiers]({link('pareto.png')})\n")


def write_sweep_report(sweep_dir, out_dir=None, *, into=None, section: str | None = None) -> dict:
    """The tables (markdown, CSV of every run) and the Pareto plot of a sweep, written atomically.

    Parameters
    ----------
    sweep_dir : str or Path
        A folder written by ``spr-or sweep``.
    out_dir : str or Path or None
        Where to write (default ``sweep_dir/report``).
    into : str or Path or None
        A comparison study only: a markdown file whose section marked with the sweep's name
        (markdown_sections.py) gets the removal-level table, the plots and links to the rest.
    section : str or None
        The name of that section (default: the sweep's name), e.g. for a sweep run with overrides.

    Returns
    -------
    dict
        ``runs`` and ``settings`` (counts), the paths ``table``, ``csv`` and ``plot`` (and, for a
        comparison study, ``differences``: the paired-difference plot), and the runs without results:
        ``failed`` ({name: last error line}) and ``missing`` (names).

    Raises
    ------
    MissingInput
        ``sweep_dir`` is not a sweep folder (no ``sweep.json``).
    InvalidArgument
        ``sweep_dir`` holds no finished run, or one of its JSON files is invalid (named).
    ResultsNotWritten
        ``out_dir`` cannot be written.
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir else sweep_dir / "report"
    sweep, rows = gather(sweep_dir)
    incomplete = incomplete_runs(sweep_dir, sweep)
    if not rows:
        listed = (f" ({len(incomplete['failed'])} failed, {len(incomplete['missing'])} missing)"
                  if incomplete["failed"] or incomplete["missing"] else "")
        raise InvalidArgument(f"sweep_dir: no finished run (runs/*/results.json) in {sweep_dir}{listed}")
    entries = aggregate(rows)
    paper = paper_rows(rows[0]["model"], rows[0]["dataset"])
    # a comparison study: its frontier is selected on validation accuracy, TEST accuracy reported
    comparison = all("method" in e for e in entries)
    levels = removal_level_tables(rows) if comparison else ""
    frontier = frontier_table(rows) + "\n" + levels if comparison else ""
    write_text_atomically(out / "table.md", markdown_table(sweep, entries, paper=paper)
                          + ("\n" + frontier if comparison else "") + incomplete_markdown(incomplete))
    if comparison:
        grid = ("\n## Every setting (not a selection): final TEST accuracy, mean ± std over seeds\n\n"
                + method_table(entries)) if all("prune.target" in e for e in entries) else ""
        write_text_atomically(out / "methods.md", frontier + grid)
    table = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))  # runs may set different keys
    writer = csv.DictWriter(table, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(out / "runs.csv", table.getvalue())
    pareto_plot(sweep, entries, paper=paper, path=out / "pareto.png", rows=rows)
    written = {"runs": len(rows), "settings": len(entries), "table": str(out / "table.md"),
               "csv": str(out / "runs.csv"), "plot": str(out / "pareto.png"), **incomplete}
    if comparison:
        reference, compared = removal_comparison(rows)
        paired_difference_plot(compared, reference, frontier_statistics.REMOVAL_LEVELS, out / "differences.png",
                               title=f"{sweep['name']}: TEST accuracy at fixed removal levels paired against "
                                     f"{reference} (mean, bootstrap 95% interval; filled: excludes 0)")
        written["differences"] = str(out / "differences.png")
    if into is not None:
        if not comparison:
            raise InvalidArgument("--into: only a comparison study (points labelled 'method') has the section it writes")
        replace_section(into, section or sweep["name"], _into_body(sweep_dir, out, Path(into), rows, incomplete,
                                                                      section, levels))
        written["into"] = str(into)
    return written
