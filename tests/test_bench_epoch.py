"""``spr-or bench epoch`` on a short CPU run: every (data path, mode) configuration trains, the
ratios to dense come from the same process, several processes aggregate, bad arguments are named."""

import json

import pytest
import torch

from spr_or.cli import main

SHORT = ["--model", "cnn_digits", "--dataset", "digits", "--max-steps", "2", "--rounds", "2", "--workers", "0",
         "--batch", "32"]


def test_epoch_benchmark_short_cpu_run(tmp_path, capsys):
    out = tmp_path / "epoch.json"
    assert main(["bench", "epoch", *SHORT, "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    rows = {(r["loader"], r["mode"]): r for r in results["configurations"]}
    assert set(rows) == {(loader, mode) for loader in ("device", "torch") for mode in ("dense", "spr", "spr_prox")}
    assert results["steps_per_epoch"] == 45 and results["epoch_extrapolated"] is True  # 1,437 digits / 32
    for (loader, mode), row in rows.items():
        assert len(row["round_step_seconds"]) == 2 and row["step_seconds"] > 0
        assert row["epoch_seconds"] == pytest.approx(row["step_seconds"] * 45)
        assert row["images_per_second"] == pytest.approx(32 / row["step_seconds"])
        if mode == "dense":
            assert row["ratio_to_dense"] == 1.0
    assert "spr_prox" in capsys.readouterr().out


def test_epoch_benchmark_several_processes(tmp_path):
    out = tmp_path / "together.json"
    assert main(["bench", "epoch", *SHORT, "--modes", "dense", "--loaders", "device", "--processes", "2",
                 "--out", str(out)]) == 0
    together = json.loads(out.read_text())
    (row,) = together["aggregate"]
    assert len(row["per_process"]) == 2 and row["images_per_second"] == pytest.approx(sum(row["per_process"]))


@pytest.mark.parametrize("args, message", [
    (["--modes", "l1"], "--modes"), (["--loaders", "gpu"], "--loaders"), (["--model", "resnet21"], "--model"),
    (["--batch", "0"], "--batch"), (["--device", "tpu"], "--device"), (["--processes", "0"], "--processes"),
    (["--dataset", "mnist"], "--dataset"), (["--dataset", "imagenet", "--loaders", "device"], "--loaders"),
])
def test_epoch_benchmark_bad_arguments(tmp_path, args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "epoch", *SHORT, "--out", str(tmp_path / "x.json"), *args])
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "epoch", *SHORT, "--device", "cuda", "--out", str(tmp_path / "x.json")])
    assert "CUDA was requested but torch sees no GPU" in capsys.readouterr().err
