"""Bring a failed job's own error message to the console (the Snakefile's ``onerror:``).

Snakemake prints only "check log file(s) for error details" for a failed job; the actionable
message (``error: ...`` from ``amoc.cli.run_command``, or a traceback's last line) is in the job's
log. This reads Snakemake's main log for the failed jobs' log files and returns their error
lines, so they can be printed where the user is looking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Snakemake 9: "    log: results/logs/x.log (check log file(s) for error details)"
_FAILED_LOG = re.compile(r"^\s*log: (.+?) \(check log file\(s\) for error details\)", re.MULTILINE)
TAIL_LINES = 12


def failed_job_logs(main_log: str) -> list[str]:
    """The log files of the failed jobs named in Snakemake's main log text, in order, once."""
    logs: dict[str, None] = {}
    for match in _FAILED_LOG.finditer(main_log):
        for path in match.group(1).split(", "):
            logs[path.strip()] = None
    return list(logs)


def error_lines(log_text: str, tail: int = TAIL_LINES) -> list[str]:
    """The user-facing error of a job log: from its ``error:`` line on, else its last lines."""
    lines = log_text.rstrip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("error: "):
            return lines[i:i + tail]
    return lines[-tail:]


def console_report(main_logs: str | Path | Iterable[str | Path] | None) -> str:
    """Text to print after a failed run: each failed job's log path and its error lines.

    ``main_logs``: Snakemake's own log file(s) (the ``log`` of ``onerror:``; a list in 9.x).
    """
    if main_logs is None:
        main_logs = []
    elif isinstance(main_logs, (str, Path)):
        main_logs = [main_logs]
    paths: list[str] = []
    for main_log in main_logs:
        if Path(main_log).is_file():
            paths += failed_job_logs(Path(main_log).read_text(errors="replace"))
    blocks = []
    for path in dict.fromkeys(paths):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        lines = error_lines(text)
        if lines:
            blocks.append(f"--- {path} ---\n" + "\n".join(lines))
    return "\n".join(blocks)
