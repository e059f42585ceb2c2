"""The paper's claims tested on a run's own results: paired rank-1 differences with 95% CIs.

Usage:
    python -m amoc.report.claims --rows results/rows/*.parquet [--twins DATASET=MANIFEST ...]
        [--claims FILE] --out results/tables/claims

For each claim of `paper_claims.yaml` and each dataset where both sides were run, the unit is
one query of one split: d = hit@1(better) - hit@1(worse), on the same probes (the same split
and test persons). The estimate is mean(d) in percentage points with a t interval
mean +- t(0.975, n-1) * sd(d) / sqrt(n); n = query-trials summed over the shared splits.
Verdict: "holds" when the whole interval is above 0, "refuted" when it is below 0,
"inconclusive" otherwise (also when too few queries). The verdict is computed from the numbers
only: the claim list says which side the paper favours, never what the run shows. Where the
alternative is a list, the best of it (highest mean rank-1 in this run) is compared, which
favours the alternative. The same table works on iLIDS-VID, PRID-2011 and MARS; the twin claim
needs synthwalk's manifest.
"""

from __future__ import annotations

import argparse
import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from amoc.atomic import write_text_atomic
from amoc.cli import run_command
from amoc.errors import ConfigError
from amoc.report.render import frame_markdown
from amoc.report.results import read_rows

log = logging.getLogger(__name__)

COLUMNS = ["claim", "dataset", "better", "worse", "better_r1", "worse_r1", "diff_pp",
           "ci_low", "ci_high", "n_queries", "n_splits", "verdict"]
MIN_QUERIES = 10


def load_claims(path: str | None = None) -> list[dict]:
    """The claim list: `path`, or the paper's (amoc/report/paper_claims.yaml)."""
    text = (Path(path).read_text() if path else
            resources.files("amoc.report").joinpath("paper_claims.yaml").read_text())
    claims = yaml.safe_load(text).get("claims", [])
    for i, claim in enumerate(claims):
        missing = {"claim", "experiment", "better", "worse"} - set(claim)
        if missing:
            raise ConfigError(f"claims[{i}] lacks {sorted(missing)} ({path or 'paper_claims.yaml'})")
    return claims


def paired_interval(diffs: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and t interval of paired differences (same units as `diffs`)."""
    mean = float(diffs.mean())
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1) * diffs.std(ddof=1)
                 / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def verdict(low: float, high: float, n: int) -> str:
    """holds / refuted / inconclusive from the interval alone."""
    if n < MIN_QUERIES or not np.isfinite(low):
        return "inconclusive"
    return "holds" if low > 0 else "refuted" if high < 0 else "inconclusive"


def _hits(rows: pd.DataFrame, variant: str, length: str | None) -> dict[int, tuple[list, np.ndarray]]:
    """{split: (query pids, hit@1 as 0/1)} of one variant at one test length (default longest)."""
    mine = rows[rows["variant"] == variant]
    if mine.empty:
        return {}
    if "first_match" not in mine.columns or mine["first_match"].isna().any():
        experiment = mine["experiment"].iloc[0]
        raise ConfigError(f"result rows of {experiment}/{variant} have no per-query ranks "
                          "(first_match); they come from an older evaluation: re-run it")
    lengths = mine["test_length"]
    chosen = lengths.min() if length == "shortest" else lengths.max()
    out = {}
    for row in mine[lengths == chosen].itertuples():
        out[int(row.split)] = (list(row.query_pids), np.asarray(row.first_match) == 1)
    return out


def _paired(better: dict, worse: dict, keep: set[int] | None) -> tuple[np.ndarray, np.ndarray, int]:
    """hit@1 of both sides over the shared splits' common probes (optionally only `keep` pids)."""
    a, b, splits = [], [], 0
    for split in sorted(set(better) & set(worse)):
        (pids_a, hits_a), (pids_b, hits_b) = better[split], worse[split]
        if pids_a != pids_b:
            raise ConfigError(f"split {split}: the two models were evaluated on different probes")
        mask = np.ones(len(pids_a), bool) if keep is None else np.isin(pids_a, list(keep))
        a.append(hits_a[mask])
        b.append(hits_b[mask])
        splits += 1
    if not splits:
        return np.zeros(0), np.zeros(0), 0
    return np.concatenate(a).astype(float), np.concatenate(b).astype(float), splits


def twin_map(manifest: str) -> dict[int, int]:
    """{pid: its appearance twin's pid} from a synthwalk manifest (`twin_pairs`)."""
    try:
        pairs = json.loads(Path(manifest).read_text())["twin_pairs"]
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"--twins: cannot read twin_pairs from {manifest} ({err})") from err
    return {int(a): int(b) for a, b in pairs} | {int(b): int(a) for a, b in pairs}


def _twins_in_gallery(hits: dict, twin_of: dict[int, int]) -> set[int]:
    """Probes whose twin is also a test person (hence in the gallery) in some split."""
    keep = set()
    for pids, _ in hits.values():
        tested = set(pids)
        keep |= {p for p in pids if twin_of.get(p) in tested}
    return keep


def evaluate_claim(claim: dict, rows: pd.DataFrame, twins: dict[str, dict[int, int]]) -> list[dict]:
    """One row per dataset that ran the claim's experiment."""
    out = []
    rows = rows[rows["experiment"] == claim["experiment"]]
    for dataset, part in rows.groupby("dataset", sort=True):
        lengths = claim.get("lengths", [None, None])
        better = _hits(part, claim["better"], lengths[0])
        options = claim["worse"] if isinstance(claim["worse"], list) else [claim["worse"]]
        scored = [(o, _hits(part, o, lengths[1])) for o in options]
        scored = [(o, h) for o, h in scored if h]
        keep = None
        if claim.get("queries") == "twins":
            if dataset not in twins:
                continue
            keep = _twins_in_gallery(better, twins[dataset])
        record = {"claim": claim["claim"], "dataset": dataset, "better": claim["better"]}
        if not better or not scored:
            out.append({**record, "worse": ", ".join(options), "n_queries": 0, "n_splits": 0,
                        "verdict": "not run"})
            continue
        pairs = {o: _paired(better, h, keep) for o, h in scored}
        worse_name = max(pairs, key=lambda o: pairs[o][1].mean() if len(pairs[o][1]) else -1.0)
        a, b, n_splits = pairs[worse_name]
        if lengths[0]:
            record["better"] = f"{claim['better']} @ {lengths[0]}"
            worse_name = f"{worse_name} @ {lengths[1]}"
        mean, low, high = paired_interval(100.0 * (a - b)) if len(a) else (np.nan,) * 3
        out.append({**record, "worse": worse_name, "better_r1": 100.0 * a.mean() if len(a) else np.nan,
                    "worse_r1": 100.0 * b.mean() if len(b) else np.nan, "diff_pp": mean,
                    "ci_low": low, "ci_high": high, "n_queries": len(a), "n_splits": n_splits,
                    "verdict": verdict(low, high, len(a))})
    return out


def claims_table(rows: pd.DataFrame, claims: list[dict],
                 twins: dict[str, dict[int, int]]) -> pd.DataFrame:
    """Every claim on every dataset, in COLUMNS order."""
    records = [r for claim in claims for r in evaluate_claim(claim, rows, twins)]
    return pd.DataFrame(records, columns=COLUMNS)


def table1_half_width(rows: pd.DataFrame) -> float | None:
    """Median 95% CI half-width (pp) of the rank-1 difference over all pairs of Table I rows."""
    widths = []
    for _, part in rows[rows["experiment"] == "table1"].groupby("dataset"):
        names = sorted(part["variant"].unique())
        hits = {n: _hits(part, n, None) for n in names}
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                a, b, _ = _paired(hits[x], hits[y], None)
                if len(a) > 1:
                    _, low, high = paired_interval(100.0 * (a - b))
                    widths.append((high - low) / 2)
    return float(np.median(widths)) if widths else None


def render(table: pd.DataFrame, half_width: float | None) -> str:
    """Markdown: what was measured, the power of the run, then the table."""
    power = ("no Table I pairs to measure it" if half_width is None else
             f"median ±{half_width:.1f} percentage points over all pairs of Table I variants")
    head = ("Claims of the paper (Liu et al., TCSVT) tested on this run's own results. diff_pp = "
            "rank-1(better) − rank-1(worse) in percentage points, paired over the same probe "
            "queries of the same splits, with its 95% t interval (ci_low, ci_high); n_queries = "
            "query-trials. Verdict: holds (interval above 0), refuted (below 0), inconclusive "
            "(contains 0). Where `worse` was a list, the best of it in this run is shown. "
            f"Power of this run (95% CI half-width of a rank-1 difference): {power}.")
    shown = table.copy()
    for col in ("better_r1", "worse_r1", "diff_pp", "ci_low", "ci_high"):
        shown[col] = shown[col].map(lambda v: "—" if pd.isna(v) else f"{v:.1f}")
    return head + "\n\n" + frame_markdown(shown)


def parse_twins(items: list[str]) -> dict[str, dict[int, int]]:
    """`DATASET=MANIFEST` -> {dataset: {pid: twin pid}}."""
    out = {}
    for item in items:
        dataset, sep, path = item.partition("=")
        if not sep:
            raise ConfigError(f"--twins {item!r}: expected DATASET=MANIFEST")
        out[dataset] = twin_map(path)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write PREFIX.md and PREFIX.csv."""
    parser = argparse.ArgumentParser(prog="amoc claims", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", required=True, help="results/rows/*.parquet")
    parser.add_argument("--twins", nargs="*", default=[], help="DATASET=synthwalk.json")
    parser.add_argument("--claims", help="claim list (default: the paper's)")
    parser.add_argument("--out", required=True, help="output prefix (.md and .csv)")
    args = parser.parse_args(argv)
    filled = [p for p in args.rows if len(pd.read_parquet(p, columns=["experiment"]))]
    rows = read_rows(filled) if filled else pd.DataFrame(columns=["experiment", "dataset"])
    table = claims_table(rows, load_claims(args.claims), parse_twins(args.twins))
    write_text_atomic(f"{args.out}.csv", table.to_csv(index=False))
    write_text_atomic(f"{args.out}.md", render(table, table1_half_width(rows)))
    log.info("claims:\n%s", table[["claim", "dataset", "diff_pp", "verdict"]].to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
