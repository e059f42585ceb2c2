"""A corrupted checkpoint or result file never reaches a table: readers verify checksums and
row consistency, and fail naming the file (exit 2, no traceback, no output written)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_train_toy import build_toy, tiny_model_config

from amoc.atomic import write_atomic
from amoc.cli import run_command
from amoc.eval.evaluate import main as evaluate_main
from amoc.integrity import checksum_path, sha256_of
from amoc.models import ModelConfig, build_model
from amoc.report import collect, tables
from amoc.report.results import ResultsError, read_rows
from amoc.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An (untrained) checkpoint and the rows the evaluate CLI wrote from it."""
    root = tmp_path_factory.mktemp("integrity")
    toy = build_toy(root, n_ids=4, lengths=(6, 8))
    cfg = ModelConfig.from_dict(tiny_model_config(2))
    model = root / "m.pt"
    save_checkpoint(model, kind="amoc-model", model=build_model(cfg), model_config=asdict(cfg),
                    train_config={}, seed=0, train_seconds=0.0, epoch=1)
    argv = ["--model", str(model), "--cache", str(toy["cache"]), "--split", str(toy["split"]),
            "--eval-config", json.dumps({"test_lengths": [4], "tta": "none", "device": "cpu"}),
            "--dataset", "toy", "--experiment", "table1", "--variant", "amoc_nomotion"]
    rows = root / "rows.parquet"
    assert evaluate_main([*argv, "--out", str(rows)]) == 0
    return {"root": root, "model": model, "rows": rows, "argv": argv}


def _flip(path: Path, offset: int, n: int = 1) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _user_error(code: int, capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.startswith("error: "), err
    return err


def test_flipped_checkpoint_bytes_stop_evaluation(evaluated: dict, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """16 bytes flipped inside the tensor data load fine in torch (no CRC check)."""
    model = tmp_path / "m.pt"
    model.write_bytes(evaluated["model"].read_bytes())
    checksum_path(model).write_bytes(checksum_path(evaluated["model"]).read_bytes())
    _flip(model, model.stat().st_size // 2, 16)
    out = tmp_path / "rows.parquet"
    argv = [a if a != str(evaluated["model"]) else str(model) for a in evaluated["argv"]]
    err = _user_error(run_command(evaluate_main, [*argv, "--out", str(out)]), capsys)
    assert f"{model}: checkpoint is corrupt" in err and "delete" in err and "rerun" in err
    assert not out.exists()


def test_checkpoint_without_checksum_is_refused(evaluated: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m.pt"
    model.write_bytes(evaluated["model"].read_bytes())
    argv = [a if a != str(evaluated["model"]) else str(model) for a in evaluated["argv"]]
    err = _user_error(run_command(evaluate_main, [*argv, "--out", str(tmp_path / "r.pq")]),
                      capsys)
    assert f"{model}: checkpoint has no checksum file m.pt.sha256" in err


def _collect(rows: Path, out: Path) -> int:
    return run_command(collect.main, [
        "--experiment", "table1", "--member", "amoc_nomotion", "toy", str(rows),
        "--rows", str(out / "rows.parquet"), "--summary", str(out / "summary.parquet")])


def test_flipped_result_bytes_stop_collect_and_tables(evaluated: dict, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    good = tmp_path / "good"
    assert _collect(evaluated["rows"], good) == 0
    rows = tmp_path / "split0.parquet"
    rows.write_bytes(evaluated["rows"].read_bytes())
    checksum_path(rows).write_bytes(checksum_path(evaluated["rows"]).read_bytes())
    _flip(rows, 559)  # one of the offsets that turned a claim from inconclusive into "holds"
    bad = tmp_path / "bad"
    err = _user_error(_collect(rows, bad), capsys)
    assert f"{rows}: result rows is corrupt" in err and "delete" in err
    assert not bad.exists() or not any(bad.iterdir())
    summary = good / "summary.parquet"
    _flip(summary, summary.stat().st_size // 2)
    table_dir = tmp_path / "tables"
    err = _user_error(run_command(tables.main, [
        "--summary", str(summary), "--table", "table1", "--experiment", "table1",
        "--out-dir", str(table_dir)]), capsys)
    assert f"{summary}: the summary is corrupt" in err
    assert not table_dir.exists() or not any(table_dir.iterdir())


def test_every_byte_flip_is_a_clear_error_even_with_a_matching_checksum(evaluated: dict,
                                                                        tmp_path: Path) -> None:
    """Were the checksum rewritten after the damage, decoding still never escapes as a raw
    exception (UnicodeDecodeError, ArrowInvalid...): every flip reads identically or raises
    ResultsError naming the file. 300 offsets spread over the file."""
    original = read_rows([evaluated["rows"]])
    data = evaluated["rows"].read_bytes()
    rows = tmp_path / "rows.parquet"
    outcomes = {"error": 0, "same": 0, "changed": 0}
    offsets = range(0, len(data), max(1, len(data) // 300))
    for offset in offsets:
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        write_atomic(rows, lambda p, d=bytes(damaged): p.write_bytes(d), checksum=True)
        try:
            back = read_rows([rows])
        except ResultsError as err:
            assert str(rows) in str(err)
            outcomes["error"] += 1
            continue
        outcomes["same" if back.equals(original) else "changed"] += 1
    assert outcomes["error"] > 0 and sum(outcomes.values()) == len(offsets)


def test_cmc_that_disagrees_with_its_ranks_is_refused(evaluated: dict, tmp_path: Path) -> None:
    """A rank-1 no evaluation can give (0.17% with 2 queries), checksum and all."""
    df = pd.read_parquet(evaluated["rows"])
    df.loc[0, "cmc_1"] = 0.0017
    rows = tmp_path / "rows.parquet"
    write_atomic(rows, lambda p: df.to_parquet(p, index=False), checksum=True)
    with pytest.raises(ResultsError, match="multiples of 1/n_query"):
        read_rows([rows])
    df = pd.read_parquet(evaluated["rows"])
    first = np.asarray(df.loc[0, "first_match"])
    df.at[0, "first_match"] = np.where(first == 1, 2, first)  # rank-1 hits moved to rank 2
    write_atomic(rows, lambda p: df.to_parquet(p, index=False), checksum=True)
    if df.loc[0, "cmc_1"] > 0:
        with pytest.raises(ResultsError, match="disagree with its first_match"):
            read_rows([rows])
    assert sha256_of(rows) == checksum_path(rows).read_text().strip()
