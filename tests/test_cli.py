"""The `amoc` console script: every command resolves to a module with a `main(argv)`."""

from __future__ import annotations

import importlib

import pytest

from amoc.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_dispatches_its_arguments_to_its_module(command, monkeypatch):
    module = importlib.import_module(COMMANDS[command][0])
    calls = []
    monkeypatch.setattr(module, "main", lambda argv: calls.append(argv) or 7)
    assert main([command, "--x", "1"]) == 7
    assert calls == [["--x", "1"]]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_parses_its_own_arguments(command, capsys):
    # The module's real main(argv) reads the argv it is given (argparse --help exits 0).
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "-h, --help" in out


def test_help_lists_commands_and_unknown_command_fails(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    assert main(["cache", "--index", str(tmp_path / "missing.parquet"), "--out",
                 str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "missing.parquet" in err and "Traceback" not in err
