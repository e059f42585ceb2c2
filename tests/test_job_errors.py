"""A failed job's own error message reaches the console (the Snakefile's onerror:)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from child_env import child_env
from conftest import REPO_ROOT

from amoc.job_errors import console_report, error_lines, failed_job_logs

MAIN_LOG = """\
[Fri Dec  4 16:36:50 2026]
Error in rule fetch:
    jobid: 0
    output: results/data/broken/raw
    log: results/logs/fetch/broken.log (check log file(s) for error details)
    shell:
        python -m amoc.data.fetch ...
Error in rule train:
    log: a.log, b.log (check log file(s) for error details)
"""


def test_the_failed_jobs_logs_are_read_from_snakemakes_log() -> None:
    assert failed_job_logs(MAIN_LOG) == ["results/logs/fetch/broken.log", "a.log", "b.log"]


def test_the_error_line_is_kept_with_what_follows_it() -> None:
    log = "INFO one\nINFO two\nerror: dataset 'x': gone\n  do this\n"
    assert error_lines(log) == ["error: dataset 'x': gone", "  do this"]
    assert error_lines("\n".join(f"l{i}" for i in range(30)), tail=2) == ["l28", "l29"]


def test_console_report_accepts_snakemakes_list_of_logs(tmp_path: Path) -> None:
    job_log = tmp_path / "job.log"
    job_log.write_text("noise\nerror: the archive is not a tar or zip file\n")
    main_log = tmp_path / "main.log"
    main_log.write_text(f"    log: {job_log} (check log file(s) for error details)\n")
    text = console_report([str(main_log)])
    assert text == f"--- {job_log} ---\nerror: the archive is not a tar or zip file"
    assert console_report(None) == ""


def test_a_failed_fetch_prints_its_message_on_the_console(tmp_path: Path) -> None:
    (tmp_path / "config").symlink_to(REPO_ROOT / "config")
    (tmp_path / "broken.tar").write_text("not an archive")
    (tmp_path / "extra.yaml").write_text(
        f"datasets:\n  broken: {{source: download, reader: ilidsvid, archive: "
        f"{tmp_path / 'broken.tar'}, n_splits: 1, split_seed: 0, min_frames: 2}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--cores", "1",
         "results/data/broken/raw", "--configfile", "extra.yaml"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode != 0
    console = result.stdout + result.stderr
    assert "Errors of the failed jobs" in console
    after = console.split("Errors of the failed jobs")[1]
    assert "--- results/logs/fetch/broken.log ---" in after and "error: " in after
    assert "broken.tar" in after
