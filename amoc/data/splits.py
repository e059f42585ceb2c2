"""Train/test person splits: random, standard published files, or MARS's fixed split.

Random splits put half of the persons in each side; with an odd count the test side gets the
extra person (ceil(n/2)), so test never shrinks below train. Each split is written to
`<out-dir>/split{k}.json` with keys dataset, split, seed, source, train_pids, test_pids.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from amoc.atomic import write_json_atomic
from amoc.cli import run_command
from amoc.data.index import read_index
from amoc.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

Split = tuple[list[int], list[int]]  # (train_pids, test_pids), each sorted


def random_person_splits(pids: list[int], n_splits: int, seed: int) -> list[Split]:
    """`n_splits` random half/half person splits, reproducible from `seed`."""
    persons = np.array(sorted({int(p) for p in pids}), dtype=np.int64)
    if len(persons) < 2:
        raise ConfigError(f"need at least 2 persons to split, got {len(persons)}")
    if n_splits < 1:
        raise ConfigError(f"n_splits must be >= 1, got {n_splits}")
    rng = np.random.default_rng(seed)
    n_test = (len(persons) + 1) // 2
    splits = []
    for _ in range(n_splits):
        order = rng.permutation(persons)
        splits.append((sorted(order[n_test:].tolist()), sorted(order[:n_test].tolist())))
    return splits


def load_ilidsvid_splits(path: str | os.PathLike, probe_persons: list[int]) -> list[Split]:
    """Splits from `train_test_splits_ilidsvid.mat`: `ls_set` rows hold 1-based indices into the
    sorted cam1 person folders; the first half of a row is the test set."""
    try:
        table = np.asarray(scipy.io.loadmat(str(path))["ls_set"], dtype=np.int64)
    except (OSError, ValueError, KeyError) as err:
        raise DatasetError(f"{path}: not a readable iLIDS-VID split file with ls_set ({err})") from err
    persons = sorted(probe_persons)
    if table.ndim != 2 or table.shape[1] != len(persons) or table.min() < 1:
        raise DatasetError(f"{path}: ls_set is {table.shape}, expected (n, {len(persons)}) "
                           "1-based indices into the cam1 person folders")
    half = table.shape[1] // 2
    return [(sorted(persons[i - 1] for i in row[half:]), sorted(persons[i - 1] for i in row[:half]))
            for row in table]


def load_prid_splits(path: str | os.PathLike) -> list[Split]:
    """Splits from a JSON list of {"train": [...], "test": [...]} person folder names."""
    try:
        entries = json.loads(Path(path).read_text())
        return [(sorted(int(n.rsplit("_", 1)[-1]) for n in e["train"]),
                 sorted(int(n.rsplit("_", 1)[-1]) for n in e["test"])) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{path}: not a PRID split file (list of train/test name lists): "
                           f"{err}") from err


def mars_fixed_split(index: pd.DataFrame) -> Split:
    """The official MARS split from the index `subset` column (junk/distractor pids included)."""
    train = sorted(set(index.loc[index["subset"] == "train", "pid"].tolist()))
    test = sorted(set(index.loc[index["subset"] == "test", "pid"].tolist()))
    if not train or not test:
        raise DatasetError("MARS index lacks a train or test subset; rebuild it")
    return train, test


def _standard_splits(index: pd.DataFrame, path: Path) -> list[Split]:
    """Load a standard split file by type (.mat: iLIDS-VID, .json: PRID-2011)."""
    if path.suffix == ".json":
        return load_prid_splits(path)
    if path.suffix == ".mat":
        probe = index.attrs.get("report", {}).get("probe_persons_on_disk")
        if probe is None:
            raise DatasetError("index has no record of the cam1 person folders; rebuild it with "
                               "amoc.data.index_cli")
        return load_ilidsvid_splits(path, probe)
    raise ConfigError(f"{path}: unknown split file type; expected .mat (iLIDS-VID) or .json (PRID)")


def _restrict(splits: list[Split], present: set[int], source: str) -> list[Split]:
    """Drop split persons absent from the index (the reader skipped them), saying so."""
    listed = set().union(*(set(a) | set(b) for a, b in splits))
    absent, unused = sorted(listed - present), sorted(present - listed)
    if absent:
        log.warning("%s: %d person(s) not in the index are dropped (skipped by the reader), "
                    "e.g. %s", source, len(absent), absent[:5])
    if unused:
        log.warning("%s: %d person(s) of the index are in no split, e.g. %s",
                    source, len(unused), unused[:5])
    kept = [([p for p in a if p in present], [p for p in b if p in present]) for a, b in splits]
    if any(not a or not b for a, b in kept):
        raise DatasetError(f"{source}: a split has an empty train or test side after dropping "
                           "persons missing from the index")
    return kept


def make_splits(index: pd.DataFrame, dataset: str, n_splits: int, seed: int,
                standard: str | os.PathLike | None = None) -> list[dict]:
    """Split records per the contract; raises ConfigError if more splits are asked than exist.

    `dataset` is the name written into the records (the config's dataset key, which may differ
    from the reader name stored in the index).
    """
    present = set(index["pid"].astype(int).tolist())
    if set(index["subset"]) == {"train", "test"}:  # MARS: the split is fixed by its info files
        splits, source = [mars_fixed_split(index)], "fixed:mars-info"
    elif standard is not None:
        source = f"standard:{Path(standard).name}"
        splits = _restrict(_standard_splits(index, Path(standard)), present, source)
    else:
        splits, source = random_person_splits(sorted(present), n_splits, seed), "random"
    if n_splits > len(splits):
        raise ConfigError(f"{n_splits} splits requested but {source} provides {len(splits)}")
    return [{"dataset": dataset, "split": k, "seed": seed, "source": source,
             "train_pids": train, "test_pids": test}
            for k, (train, test) in enumerate(splits[:n_splits])]


def write_splits(records: list[dict], out_dir: str | os.PathLike, only: int | None = None
                 ) -> list[Path]:
    """Write `split{k}.json` files atomically (all, or only split `only`)."""
    if only is not None and not 0 <= only < len(records):
        raise ConfigError(f"--only {only} is outside 0..{len(records) - 1}")
    chosen = records if only is None else [records[only]]
    paths = []
    for record in chosen:
        path = Path(out_dir) / f"split{record['split']}.json"
        write_json_atomic(path, record)
        log.info("wrote %s (%d train / %d test persons)", path, len(record["train_pids"]),
                 len(record["test_pids"]))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Write the person splits of one dataset index."""
    parser = argparse.ArgumentParser(prog="amoc splits", description=__doc__)
    parser.add_argument("--index", required=True, help="index.parquet of the dataset")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--n-splits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--standard", default=None, help="standard split file (.mat or .json)")
    parser.add_argument("--out-dir", required=True, help="e.g. results/splits/<dataset>")
    parser.add_argument("--only", type=int, default=None, help="write only split K")
    args = parser.parse_args(argv)
    index = read_index(args.index)
    records = make_splits(index, args.dataset, args.n_splits, args.seed, args.standard)
    write_splits(records, args.out_dir, args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
