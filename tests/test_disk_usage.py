"""`amoc du` on a hand-built results tree: every intermediate lands in its stage and item."""

from __future__ import annotations

import json

import pytest

from amoc.cli import run_command
from amoc.disk_usage import classify, human, main

# results/-relative path -> apparent size in bytes; one or more files per stage of the workflow.
TREE = {
    "data/synthwalk/raw/cam1/p001/00001.png": 1000,
    "data/synthwalk/raw/cam2/p001/00001.png": 1000,
    "data/ilidsvid/iLIDS-VID.tar": 5000,
    "data/ilidsvid/raw/i-LIDS-VID/sequences/cam1/person001/a.png": 700,
    "data/synthwalk/index.parquet": 300,
    "data/synthwalk/cache/frames.npy": 90000,
    "data/synthwalk/cache/index.parquet": 300,
    "data/synthwalk/cache/cache.json": 50,
    "splits/synthwalk/split0.json": 40,
    "splits/synthwalk/split1.json": 40,
    "flow/synthwalk/lk/flow.npy": 20000,
    "flow/synthwalk/lk/meta.json": 10,
    "flow/synthwalk/epic/flow.npy": 30000,
    "pretrain/synthwalk/epic/w0.25.pt": 4000,
    "models/synthwalk/0123456789abcdef/split0.pt": 8000,
    "models/synthwalk/fedcba9876543210/split0.pt": 8000,
    "eval/synthwalk/0123456789abcdef/aaaaaaaaaaaaaaaa/split0.parquet": 600,
    "rows/table1.parquet": 200,
    "summary/table1.parquet": 100,
    "tables/table1.md": 30,
    "tables/table1.csv": 20,
    "figures/fig6a.png": 3000,
    "logs/train/synthwalk_0123456789abcdef_split0.log": 70,
    "logs/cache/synthwalk.log": 5,
    "benchmarks/train/synthwalk_0123456789abcdef_split0.tsv": 60,
    "README.md": 9,
}
EXPECTED = {  # stage -> {item: (bytes, files)}
    "data raw": {"synthwalk": (2000, 2), "ilidsvid": (5700, 2)},
    "indexes": {"synthwalk": (300, 1)},
    "caches": {"synthwalk": (90350, 3)},
    "splits": {"synthwalk": (80, 2)},
    "flow stores": {"synthwalk/lk": (20010, 2), "synthwalk/epic": (30000, 1)},
    "pretrain": {"synthwalk/epic": (4000, 1)},
    "models": {"synthwalk": (16000, 2)},
    "eval rows": {"synthwalk": (600, 1)},
    "rows/summaries": {"rows": (200, 1), "summary": (100, 1)},
    "tables": {"tables": (50, 2)},
    "figures": {"figures": (3000, 1)},
    "logs": {"train": (70, 1), "cache": (5, 1)},
    "benchmarks": {"train": (60, 1)},
    "other": {"README.md": (9, 1)},
}


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    for rel, size in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    return root


def run_json(results, capsys) -> dict:
    assert run_command(main, ["--results", str(results), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_groups_every_file_by_stage_and_item(results, capsys):
    report = run_json(results, capsys)
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == list(EXPECTED)  # pipeline order
    for label, items in EXPECTED.items():
        got = {name: (u["bytes"], u["files"]) for name, u in stages[label]["items"].items()}
        assert got == items, label
        assert stages[label]["bytes"] == sum(b for b, _ in items.values())
        assert isinstance(stages[label]["disk_bytes"], int)  # allocated size: filesystem-specific
    assert report["total"]["bytes"] == sum(TREE.values())
    assert report["total"]["files"] == len(TREE)


def test_empty_stages_are_left_out_and_symlinks_not_followed(tmp_path, capsys):
    root = tmp_path / "results"
    (root / "splits" / "d").mkdir(parents=True)
    big = tmp_path / "outside.bin"
    big.write_bytes(b"x" * 100_000)
    (root / "splits" / "d" / "link.json").symlink_to(big)
    (root / "flow" / "d" / "lk").mkdir(parents=True)  # folders alone use no stage's space
    report = run_json(root, capsys)
    assert [s["stage"] for s in report["stages"]] == ["splits"]
    assert report["total"]["bytes"] < 1000 and report["total"]["files"] == 1


def test_text_report_lists_stages_largest_items_and_total(results, capsys):
    assert run_command(main, ["--results", str(results), "--top", "1"]) == 0
    out = capsys.readouterr().out
    for label in EXPECTED:
        assert f"\n{label} " in out
    flow = out.split("\nflow stores")[1].splitlines()
    assert flow[1].split()[0] == "synthwalk/epic" and flow[2].strip() == "... 1 more"
    assert out.rstrip().splitlines()[-1].split()[0] == "total"
    assert out.rstrip().splitlines()[-1].split()[-1] == str(len(TREE))


def test_missing_results_folder_is_a_user_error(tmp_path, capsys):
    assert run_command(main, ["--results", str(tmp_path / "nope")]) == 2
    assert "no results folder at" in capsys.readouterr().err


@pytest.mark.parametrize(("parts", "expected"), [
    (("data", "mars", "MARS.zip"), ("data raw", "mars")),
    (("data", "mars", ".extract.abc", "x.jpg"), ("data raw", "mars")),
    (("flow", "d", "lk", "flow.npy"), ("flow stores", "d/lk")),
    (("logs", "stray.log"), ("logs", "logs")),
    (("report.html",), ("other", "report.html")),
    (("mystery", "a", "b"), ("other", "mystery")),
])
def test_classify(parts, expected):
    assert classify(parts) == expected


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (5 * 1024**3, "5.0 GiB"), (3 * 1024**4, "3.0 TiB"), (2000 * 1024**4, "2000.0 TiB"),
])
def test_human(n, text):
    assert human(n) == text


def _planned_tree(root, configfiles=()):
    """results/ holding one model and one evaluation folder of every job of the current plan."""
    from amoc.disk_usage import current_config
    from amoc.experiments import plan

    p = plan(current_config(list(configfiles)))
    for job in p.train_jobs.values():
        (root / "models" / job.dataset / job.train_hash).mkdir(parents=True, exist_ok=True)
        (root / "models" / job.dataset / job.train_hash / "split0.pt").write_bytes(b"m")
    for job in p.eval_jobs.values():
        folder = root / "eval" / job.dataset / job.train_hash / job.eval_hash
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "split0.parquet").write_bytes(b"e")
    return p


def test_orphans_are_what_no_current_config_points_to(tmp_path, capsys, monkeypatch):
    from tests.conftest import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    extra = tmp_path / "extra.yaml"
    extra.write_text("experiments:\n  table1:\n    variants:\n"
                     "      tap_wide: {model: {class: 'examples.tap_baseline:TapNet', "
                     "embedding: 32}}\n")
    results = tmp_path / "results"
    with_extra = _planned_tree(results, [str(extra)])
    default = _planned_tree(tmp_path / "unused")
    extra_only = sorted(set(with_extra.train_jobs) - set(default.train_jobs))
    assert extra_only  # the override file adds a trained model
    (results / "models/synthwalk/0000000000000000").mkdir()  # a model nothing plans
    base = ["--results", str(results), "--orphans"]
    assert run_command(main, [*base, "--configfile", str(extra)]) == 0
    out = capsys.readouterr().out
    assert "1 model/evaluation folder(s)" in out and "0000000000000000" in out
    assert run_command(main, base) == 0  # without the override file, its variant is orphaned
    out = capsys.readouterr().out
    assert all(h in out for h in extra_only) and "a variant added with --configfile" in out
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # no answer: nothing deleted
    assert run_command(main, [*base, "--configfile", str(extra), "--delete"]) == 0
    assert "nothing deleted" in capsys.readouterr().out
    assert (results / "models/synthwalk/0000000000000000").is_dir()
    assert run_command(main, [*base, "--configfile", str(extra), "--delete", "--yes"]) == 0
    assert "deleted 1 folder(s)" in capsys.readouterr().out
    assert not (results / "models/synthwalk/0000000000000000").exists()
    assert all((results / "models/synthwalk" / h).is_dir() for h in extra_only)
