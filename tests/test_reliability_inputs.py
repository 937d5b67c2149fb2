"""Hostile input to the commands (issue 12): malformed YAML, absurd config values, corrupt dataset
files, incomplete or corrupt sweep folders, and a killed sweep. Each case ends with one line naming
the file or key (a ``UserError``, exit 2 through the CLI), or, for the sweep, with no run left going."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from spr_core.errors import UserError
from spr_or.cli import main
from spr_or.pruning.config import ConfigError, load_config
from tests.dataset_files import write_imagenet

ROOT = Path(__file__).resolve().parents[1]
TINY = {"data": {"dataset": "digits"}, "model": "cnn_digits", "reference": {"epochs": 1, "milestones": []},
        "train": {"epochs": 1, "milestones": []}, "finetune": {"epochs": 1, "milestones": []},
        "report": {"latency_repeats": 1, "latency_batch_sizes": [1]}, "runtime": {"threads": 1}}


def _error_of(capsys, argv) -> str:
    """The one-line error of ``spr-or argv`` (exit status 2)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- 1. malformed YAML -----------------------------------------------------------------------------

MALFORMED = "train:\n  lr: [0.1, 0.2\n  epochs: 3\n"  # an unclosed flow sequence; the error is on line 3


def test_malformed_prune_config_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MALFORMED)
    with pytest.raises(ConfigError, match=r"bad\.yaml.*line 3"):
        load_config(bad)
    err = _error_of(capsys, ["prune", "--quiet", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert str(bad) in err and "invalid YAML at line 3" in err


@pytest.mark.parametrize("text, line", [(MALFORMED, 3), ("name: x\nseeds: [0\nbase: {a: b: c}\n", 3),
                                        ("name: x\n\tbase: {}\n", 2)])
def test_malformed_sweep_config_names_the_file_and_line(tmp_path, capsys, text, line):
    bad = tmp_path / "sweep.yaml"
    bad.write_text(text)
    err = _error_of(capsys, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    assert str(bad) in err and f"line {line}" in err


def test_a_sweep_file_that_is_not_a_mapping_or_not_text(tmp_path, capsys):
    bad = tmp_path / "sweep.yaml"
    bad.write_text("- 1\n- 2\n")
    assert "must hold a mapping" in _error_of(capsys, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    bad.write_bytes(b"\xff\xfe\x00binary")
    assert "not UTF-8" in _error_of(capsys, ["sweep", str(bad), "--out", str(tmp_path / "o")])


# --- 2. absurd values in overrides -------------------------------------------------------------------

@pytest.mark.parametrize("override, key, allowed", [
    ("data.batch_size=1e21", "data.batch_size", "[1, 1048576]"),          # YAML 1.1: a string
    ("data.batch_size=1.0e+21", "data.batch_size", "[1, 1048576]"),       # a float
    (f"data.batch_size={10 ** 30}", "data.batch_size", "[1, 1048576]"),   # an int too large for torch
    (f"data.test_batch_size={10 ** 30}", "data.test_batch_size", "[1, 1048576]"),
    (f"seed={10 ** 30}", "seed", "2**63"),
    (f"seed={2 ** 63}", "seed", "2**63"),
    ("seed=-1", "seed", "[0, 2**63 - 1]"),
    (f"train.epochs={10 ** 30}", "train.epochs", "[0, 100000]"),
    (f"finetune.epochs={10 ** 9}", "finetune.epochs", "[0, 100000]"),
    (f"data.num_workers={10 ** 30}", "data.num_workers", "[0, 1024]"),
    (f"train.milestones=[{10 ** 30}]", "train.milestones", "[1, 100000]"),
    (f"report.latency_batch_sizes=[{10 ** 30}]", "report.latency_batch_sizes", "[1, 1048576]"),
    (f"runtime.threads={10 ** 30}", "runtime.threads", "[1, 4096]"),
])
def test_huge_values_name_the_key_and_range(tmp_path, capsys, override, key, allowed):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert str(err.value).startswith(key) and allowed in str(err.value)
    line = _error_of(capsys, ["prune", "--quiet", "--out", str(tmp_path / "o"), override])
    assert key in line and allowed in line


def test_sensible_large_values_still_pass():
    config = load_config(None, [f"seed={2 ** 63 - 1}", "data.batch_size=65536", "train.epochs=300",
                                "data.num_workers=64"])
    assert config.seed == 2 ** 63 - 1 and config.data.batch_size == 65536


def test_huge_values_in_a_sweep_name_the_run_and_key(tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base": TINY, "seeds": [10 ** 30]}))
    err = _error_of(capsys, ["sweep", str(sweep), "--out", str(tmp_path / "o")])
    assert "seed must be an integer in [0, 2**63 - 1]" in err


# --- 3. corrupt dataset files ------------------------------------------------------------------------

def _write_cifar10(root, labels_of=None, n=6):
    """CIFAR-10 python-version files (tests/dataset_files.py); ``labels_of(file, labels)`` edits one."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, size=n).tolist()
        if labels_of:
            labels = labels_of(name, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), "labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return folder


@pytest.mark.parametrize("edit, what", [
    (lambda labels: labels[:-1], "5 labels for 6 images"),
    (lambda labels: labels + [1, 2], "8 labels for 6 images"),
    (lambda labels: [12] + labels[1:], "outside [0, 9], e.g. 12 at image 0"),
    (lambda labels: labels[:-1] + [-1], "outside [0, 9]"),
])
def test_cifar_labels_out_of_range_or_miscounted_name_the_file(tmp_path, edit, what):
    from spr_or.data import load_datasets

    folder = _write_cifar10(tmp_path, lambda name, labels: edit(labels) if name == "data_batch_3" else labels)
    with pytest.raises(UserError) as err:
        load_datasets("cifar10", tmp_path)
    assert isinstance(err.value, ValueError)
    assert str(folder / "data_batch_3") in str(err.value) and what in str(err.value)


def test_cifar_test_file_checked_too_and_cli_is_one_line(tmp_path, capsys):
    _write_cifar10(tmp_path, lambda name, labels: [99] * len(labels) if name == "test_batch" else labels)
    err = _error_of(capsys, ["prune", "--quiet", "--out", str(tmp_path / "o"), "data.dataset=cifar10",
                             f"data.data_dir={tmp_path}", "model=resnet20"])
    assert "test_batch" in err and "outside [0, 9]" in err


def test_cifar_file_of_the_wrong_shape_names_the_file(tmp_path):
    from spr_or.data import load_datasets

    folder = _write_cifar10(tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({"data": np.zeros((6, 100), dtype=np.uint8), "labels": [0] * 6}, f)
    with pytest.raises(UserError, match=r"data_batch_2.*shape \(6, 100\)"):
        load_datasets("cifar10", tmp_path)
    (folder / "data_batch_4").write_bytes(b"not a pickle")
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(UserError, match=r"data_batch_2 holds a list"):
        load_datasets("cifar10", tmp_path)


@pytest.mark.parametrize("corrupt", [b"this is not a JPEG", b"\xff\xd8\xff\xe0" + b"\x00" * 20])
def test_a_corrupt_jpeg_names_the_image(tmp_path, corrupt):
    from spr_or.data import load_datasets

    write_imagenet(tmp_path, per_class=2)
    bad = tmp_path / "train" / "n01443537" / "n01443537_1.JPEG"
    bad.write_bytes(corrupt)
    bundle = load_datasets("imagenet", tmp_path, image_size=32)
    assert bundle.train[0][0].shape == (3, 32, 32)  # the good images load
    with pytest.raises(UserError, match="cannot read the image") as err:
        bundle.train[3]
    assert str(bad) in str(err.value) and not isinstance(err.value, OSError)


def test_a_truncated_jpeg_names_the_image(tmp_path):
    from spr_or.data import load_datasets

    write_imagenet(tmp_path, per_class=2)
    bad = tmp_path / "val" / "n01440764" / "n01440764_0.JPEG"
    bad.write_bytes(bad.read_bytes()[:300])
    bundle = load_datasets("imagenet", tmp_path, image_size=32)
    with pytest.raises(UserError, match="cannot read the image") as err:
        bundle.test[0]
    assert str(bad) in str(err.value)


# --- 4. reports of incomplete or corrupt sweep folders -----------------------------------------------

RESULTS = {"model": "cnn_digits", "dataset": "digits", "final_accuracy": 90.0, "accuracy_after_pruning": 80.0,
           "dense_accuracy": 95.0, "params_pruned_paper": 100, "params_pruned_paper_percent": 10.0,
           "params_removed_percent": 9.0, "conv_params_removed_percent": 9.5, "flops_removed_percent": 8.0}


def _sweep_folder(tmp_path, names=("lam=1_seed=0", "lam=1_seed=1", "lam=2_seed=0"), status=None):
    """A sweep folder as `spr-or sweep` writes it, with a results.json for the first run only."""
    out = tmp_path / "sweep"
    runs = [{"name": n, "settings": {"regularizer.lam": float(n[4]), "seed": int(n[-1])}} for n in names]
    (out / "runs" / names[0]).mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps({"name": "s", "table": None, "description": "", "runs": runs}))
    (out / "runs" / names[0] / "results.json").write_text(json.dumps(RESULTS))
    if status is not None:
        (out / "sweep_status.json").write_text(json.dumps(status))
    return out


def test_report_lists_missing_and_failed_runs_and_exits_1(tmp_path, capsys):
    out = _sweep_folder(tmp_path, status={"lam=1_seed=0": {"status": "done", "attempts": 1},
                                          "lam=1_seed=1": {"status": "failed", "attempts": 2,
                                                           "error": "Traceback\nNonFiniteLoss: loss is nan"}})
    assert main(["report", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "1 run(s) failed and 1 missing" in printed
    assert "failed: lam=1_seed=1: NonFiniteLoss: loss is nan" in printed and "missing: lam=2_seed=0" in printed
    table = (out / "report" / "table.md").read_text()
    assert "## Missing and failed runs" in table
    assert "- failed: `lam=1_seed=1`: NonFiniteLoss: loss is nan" in table and "- missing: `lam=2_seed=0`" in table
    assert main(["report", str(out), "--allow-missing"]) == 0


def test_report_of_a_complete_sweep_has_no_missing_section(tmp_path, capsys):
    out = _sweep_folder(tmp_path, names=("lam=1_seed=0",))
    assert main(["report", str(out)]) == 0
    assert "Missing" not in (out / "report" / "table.md").read_text()
    assert "missing" not in capsys.readouterr().out


@pytest.mark.parametrize("content", ["{}", "[1, 2]", '{"model": "cnn_digits"', "\x00garbage", '"text"',
                                     json.dumps({**RESULTS, "final_accuracy": "high"})])
def test_corrupt_results_json_names_the_file(tmp_path, capsys, content):
    out = _sweep_folder(tmp_path)
    results = out / "runs" / "lam=1_seed=0" / "results.json"
    results.write_text(content)
    err = _error_of(capsys, ["report", str(out), "--allow-missing"])
    assert str(results) in err


@pytest.mark.parametrize("name, content", [("sweep.json", "{not json"), ("sweep.json", "[]"),
                                           ("sweep.json", '{"runs": [{"name": 1}]}'),
                                           ("sweep_status.json", "{truncated"), ("sweep_status.json", "[1]")])
def test_corrupt_sweep_files_name_the_file(tmp_path, capsys, name, content):
    out = _sweep_folder(tmp_path)
    (out / name).write_text(content)
    err = _error_of(capsys, ["report", str(out), "--allow-missing"])
    assert str(out / name) in err


# --- 5. a killed sweep leaves no run going -----------------------------------------------------------

def _live_processes():
    """(pid, ppid, process group, argv) of every process in /proc that is not a zombie (a zombie left
    to an init that does not reap promptly runs nothing)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        state, ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            yield int(entry.name), int(ppid), int(pgrp), argv


def _children_running_prune(parent: int) -> list[int]:
    """The runs of the sweep ``parent``: its children whose command is `spr_or.cli prune` (fresh
    interpreters), and the children of its preloaded fork server (preloaded_process.py)."""
    live = list(_live_processes())
    servers = {pid for pid, ppid, _, argv in live if ppid == parent and any(b"forkserver" in a for a in argv)}
    return [pid for pid, ppid, _, argv in live
            if (ppid == parent and b"spr_or.cli" in argv and b"prune" in argv) or ppid in servers]


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children, the fork server's runs, ...)."""
    live = list(_live_processes())
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, ppid, _, _ in live if ppid in frontier}
        found += frontier
    return found


def _alive(pid: int) -> bool:
    return any(found == pid for found, *_ in _live_processes())


def _group_members_running(pgid: int) -> list[str]:
    """The live processes of group ``pgid``, as "pid command" for the assertion message."""
    return [f"{pid} {b' '.join(argv).decode(errors='replace')[:120]}"
            for pid, _, pgrp, argv in _live_processes() if pgrp == pgid]


@pytest.mark.skipif(os.name != "posix" or not Path("/proc/self/stat").exists(), reason="POSIX with /proc")
@pytest.mark.parametrize("sig, flags", [(signal.SIGTERM, []), (signal.SIGINT, []),
                                        (signal.SIGTERM, ["--fresh-interpreter"])],
                         ids=["SIGTERM-preloaded", "SIGINT-preloaded", "SIGTERM-fresh-interpreter"])
def test_killing_a_sweep_stops_its_running_child(tmp_path, sig, flags):
    spec = {"name": "long", "base": {**TINY, "train": {"epochs": 100_000, "milestones": []}}, "seeds": [0]}
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(spec))
    sweep = subprocess.Popen([sys.executable, "-m", "spr_or.cli", "sweep", str(config), "--quiet", "--retries", "3",
                              "--out", str(tmp_path / "out"), *flags], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    children = []
    try:
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline and sweep.poll() is None:
            time.sleep(0.1)
            children = _children_running_prune(sweep.pid)
        assert children, f"no `spr-or prune` child started: {sweep.poll()} {sweep.stderr.read() if sweep.poll() else ''}"
        time.sleep(0.5)  # the child is under way (importing torch)
        sweep.send_signal(sig)
        _, err = sweep.communicate(timeout=40)
        assert sweep.returncode == 128 + sig, err
        assert "interrupted" in err and "Traceback" not in err
        for child in children:  # the child and its process group are gone, and no retry started
            assert not _alive(child)
            assert not _group_members_running(child), _group_members_running(child)
        assert not _children_running_prune(sweep.pid)
    finally:
        leftovers = _descendants(sweep.pid)  # whatever happened above, leak nothing
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        for child in set(children) | set(leftovers):  # the old code leaves it running: do not leak it
            if _alive(child):
                os.kill(child, signal.SIGKILL)
