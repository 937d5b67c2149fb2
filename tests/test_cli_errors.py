"""What ``spr-or`` does with errors: bad input (a ``UserError``) is one line on stderr and exit
status 2, a diverging run (``NonFiniteLoss``) exit status 3, and anything else is a bug that keeps
its traceback instead of being turned into a message."""

import pytest

from spr_core.errors import InvalidArgument, NonFiniteLoss, UserError
from spr_or import cli
from spr_or.atomic_files import ResultsNotWritten, write_text_atomically
from spr_or.commands import validate


def _fail_with(monkeypatch, error):
    def run(args):
        raise error

    monkeypatch.setattr(validate, "run", run)


def test_a_user_error_is_one_line_and_exit_status_2(monkeypatch, capsys):
    _fail_with(monkeypatch, InvalidArgument("--instances must be an integer >= 1; got 0"))
    with pytest.raises(SystemExit) as info:
        cli.main(["validate"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "spr-or validate: error: --instances must be an integer >= 1; got 0\n"


def test_a_diverging_run_stops_with_exit_status_3(monkeypatch, capsys):
    _fail_with(monkeypatch, NonFiniteLoss("the loss is nan at epoch 2"))
    with pytest.raises(SystemExit) as info:
        cli.main(["validate"])
    assert info.value.code == 3
    assert capsys.readouterr().err == "spr-or validate: stopped: the loss is nan at epoch 2\n"


@pytest.mark.parametrize("bug", [ValueError("a bug"), TypeError("a bug"), KeyError("a bug"),
                                 FileNotFoundError("a bug"), OSError("a bug"), RuntimeError("a bug")])
def test_a_bug_keeps_its_traceback(monkeypatch, bug):
    _fail_with(monkeypatch, bug)
    with pytest.raises(type(bug), match="a bug"):
        cli.main(["validate"])


def test_a_bad_argument_of_a_real_command_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "overhead", "--models", "resnet21", "--no-memory", "--out", str(tmp_path / "x.json")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("spr-or bench: error: --models: unknown model 'resnet21'") and err.count("\n") == 1


def test_results_that_cannot_be_written_name_the_path(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ResultsNotWritten) as info:
        write_text_atomically(blocker / "sub" / "table.txt", "text")
    assert isinstance(info.value, UserError) and isinstance(info.value, OSError)
    assert str(blocker / "sub" / "table.txt") in str(info.value) and "Not a directory" in str(info.value)
    assert isinstance(info.value.__cause__, NotADirectoryError)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "overhead", "--models", "resnet20", "--kinds", "l1", "--batch", "2", "--repeats", "1",
                  "--warmup", "0", "--no-memory", "--out", str(blocker / "bench.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spr-or bench: error: cannot write the results to {blocker / 'bench.json'}")


def test_prune_and_sweep_share_their_run_options():
    from spr_or.commands.run_flags import RUN_FLAGS, flag_overrides

    parser = cli.build_parser()
    common = ["--data-dir", "/data/x y", "--device", "cuda:1", "--bf16", "--channels-last", "--compile"]
    expected = ['data.data_dir="/data/x y"', 'runtime.device="cuda:1"', "runtime.bf16=true",
                "runtime.channels_last=true", "runtime.compile=true"]
    assert len(expected) == len(RUN_FLAGS)
    prune = parser.parse_args(["prune", *common, "--workers", "3", "--pin-memory"])
    assert flag_overrides(prune) == expected + ["data.num_workers=3", "data.pin_memory=true"]
    sweep = parser.parse_args(["sweep", "s.yaml", "--out", "o", *common, "--workers", "3"])
    assert flag_overrides(sweep) == expected  # sweep's --workers is runs at once, not DataLoader workers
    assert sweep.workers == 3 and flag_overrides(parser.parse_args(["prune"])) == []
