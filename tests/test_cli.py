"""The `amoc` console script: every command resolves to a module with a `main(argv)`."""

from __future__ import annotations

import importlib

import pytest

from amoc.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_main(command):
    module = importlib.import_module(COMMANDS[command][0])
    assert callable(module.main)


def test_help_lists_commands_and_unknown_command_fails(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    assert main(["cache", "--index", str(tmp_path / "missing.parquet"), "--out",
                 str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "missing.parquet" in err and "Traceback" not in err
