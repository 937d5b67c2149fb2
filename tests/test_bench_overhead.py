"""``spr-or bench overhead`` runs end to end on a tiny setting and rejects bad arguments by name."""

import json

import pytest

from spr_or.cli import main


def test_overhead_benchmark_tiny(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "overhead", "--models", "resnet20", "--kinds", "spr", "--batch", "2", "--repeats", "2",
                 "--warmup", "0", "--no-memory", "--bf16", "--channels-last", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["models"]["resnet20"]
    assert set(results["ratio"]) == {"none", "spr"} and results["ratio"]["none"] == 1.0
    assert all(len(v) == 2 for v in results["times"].values())
    assert "resnet20" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [(["--models", "resnet21"], "--models"), (["--kinds", "l0"], "--kinds"),
                                           (["--repeats", "0"], "--batch and --repeats")])
def test_overhead_benchmark_bad_arguments(tmp_path, args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "overhead", "--no-memory", "--out", str(tmp_path / "x.json"), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_overhead_benchmark_feeds_each_model_its_input_shape(tmp_path):
    """cnn_digits takes 1-channel 8x8 digits (models.registry.INPUT_SHAPES), not CIFAR images."""
    out = tmp_path / "bench.json"
    assert main(["bench", "overhead", "--models", "cnn_digits", "--kinds", "spr", "--batch", "4", "--repeats", "2",
                 "--warmup", "0", "--no-memory", "--channels-last", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["models"]["cnn_digits"]
    assert set(results["median_seconds"]) == {"none", "spr"} and results["penalty_seconds"]["spr"] > 0
