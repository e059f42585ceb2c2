"""The paper's claims tested on a run's own results, with the training as the unit of replication.

Usage:
    python -m amoc.report.claims --rows results/rows/*.parquet [--twins DATASET=MANIFEST ...]
        [--claims FILE] [--min-trainings N] --out results/tables/claims

Why trainings, not queries: every query of a split is scored by ONE trained model per side, so
the randomness that decides a claim (initialisation, sampling order, dropout, the split) is
shared by all of them. An interval that counts query-trials as independent draws is too narrow
as soon as trainings differ (a simulation at 6% rank-1 with 100 queries a split gave 64%
coverage for a nominal 95% when a training moves rank-1 by SD 4 points), and more queries do
not fix it.

Method. A training is one (split, seed). For each claim, dataset and training trained on both
sides, d = rank-1(better) - rank-1(worse) in percentage points over the same probes. The estimate
is the mean of d over the n trainings; the 95% interval is Student's t over trainings,
mean +- t(0.975, n-1) * sd(d) / sqrt(n). Its assumptions: the trainings are independent draws
of the same procedure (different splits and seeds), and the mean of d is close enough to normal
(d is itself a mean over ~100 queries). The same seed on both sides pairs the trainings but is
not needed for validity.

Verdict: with fewer than ``MIN_TRAININGS`` trainings the verdict is "too few trainings", since a
t interval from 2-4 values is either uselessly wide or, by chance, narrow and misleading.
Otherwise "holds" (interval above 0), "refuted" (below 0) or "inconclusive". The verdict comes
from the numbers only: the claim list says which side the paper favours, never what the run shows.

Secondary column ``mcnemar_p``: the exact McNemar test on the pooled query-trials (two-sided
binomial test of the discordant queries). It tests only these checkpoints (would these exact
models differ on more probes?), not the training procedure, and is labelled so.

Where the alternative is a list, the best of it (highest mean rank-1 over the paired trainings)
is compared, which favours the alternative; a tie keeps the first in the list's order. An
alternative that is the same function as the better side (the same trained models and
evaluation: equal ``config_hash`` in every training, such as concat at tanh2 and at pool2) is
never compared with it: it is listed as identical and skipped.

Power: the median, over all pairs of Table I variants, of the interval half-width that the
trainings' spread gives (as above).

Twins (synthwalk): a probe counts when its appearance twin is a test person of the same split,
hence in that split's gallery.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
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
           "ci_low", "ci_high", "n_trainings", "n_query_trials", "mcnemar_p", "verdict",
           "skipped"]
MIN_TRAININGS = 5
TOO_FEW = "too few trainings"
Training = tuple[int, int]  # (split, seed)


@dataclass(frozen=True)
class Scored:
    """One variant at one test length, per training: probes, hit@1 and its config hash."""

    pids: dict[Training, list[int]]
    hits: dict[Training, np.ndarray]
    config: dict[Training, str]


def load_claims(path: str | None = None, name: str = "paper_claims.yaml") -> list[dict]:
    """The claim list: `path`, or the package's `name` (the paper's claims by default)."""
    text = (Path(path).read_text() if path else
            resources.files("amoc.report").joinpath(name).read_text())
    claims = yaml.safe_load(text).get("claims", [])
    for i, claim in enumerate(claims):
        missing = {"claim", "experiment", "better", "worse"} - set(claim)
        if missing:
            raise ConfigError(f"claims[{i}] lacks {sorted(missing)} ({path or name})")
    return claims


def training_interval(diffs: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and t interval of per-training differences (NaN bounds below 2 trainings)."""
    mean = float(diffs.mean()) if len(diffs) else float("nan")
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1) * diffs.std(ddof=1)
                 / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def verdict(low: float, high: float, n_trainings: int, min_trainings: int = MIN_TRAININGS) -> str:
    """too few trainings / holds / refuted / inconclusive, from the interval alone."""
    if n_trainings < min_trainings:
        return TOO_FEW
    if not np.isfinite(low):
        return "inconclusive"
    return "holds" if low > 0 else "refuted" if high < 0 else "inconclusive"


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar p of paired 0/1 outcomes (1.0 with no discordant pair)."""
    wins, losses = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def _scored(rows: pd.DataFrame, variant: str, length: str | None) -> Scored | None:
    """One variant at one test length (default the longest), per training; None if not run."""
    mine = rows[rows["variant"] == variant]
    if mine.empty:
        return None
    if "first_match" not in mine.columns or mine["first_match"].isna().any():
        experiment = mine["experiment"].iloc[0]
        raise ConfigError(f"result rows of {experiment}/{variant} have no per-query ranks "
                          "(first_match); they come from an older evaluation: re-run it")
    lengths = mine["test_length"]
    chosen = lengths.min() if length == "shortest" else lengths.max()
    pids, hits, config = {}, {}, {}
    for row in mine[lengths == chosen].itertuples():
        key = (int(row.split), int(row.seed))
        pids[key] = [int(p) for p in row.query_pids]
        hits[key] = np.asarray(row.first_match) == 1
        config[key] = str(row.config_hash)
    return Scored(pids, hits, config)


def same_function(a: Scored, b: Scored) -> bool:
    """Both sides are the same trained models under the same evaluation, in every training."""
    return a.config.keys() == b.config.keys() and a.config == b.config


@dataclass(frozen=True)
class Paired:
    """Both sides on the probes of the trainings they share."""

    per_training: np.ndarray  # rank-1 difference in pp, one value per training
    better: list[np.ndarray]  # hit@1 per training (the kept probes)
    worse: list[np.ndarray]

    @property
    def n_trainings(self) -> int:
        return len(self.per_training)

    def rank1(self, side: list[np.ndarray]) -> float:
        """Mean over trainings of each training's rank-1, in percent."""
        return float(np.mean([100.0 * h.mean() for h in side])) if side else float("nan")


def pair(better: Scored, worse: Scored, twin_of: dict[int, int] | None = None) -> Paired:
    """Per-training differences over each shared training's common probes.

    ``twin_of``: keep only probes whose twin is a test person of the same split (its gallery).

    Raises:
        ConfigError: a shared training was evaluated on different probes on the two sides.
    """
    diffs, kept_a, kept_b = [], [], []
    for key in sorted(better.hits.keys() & worse.hits.keys()):
        pids = better.pids[key]
        if pids != worse.pids[key]:
            raise ConfigError(f"split {key[0]} seed {key[1]}: the two models were evaluated on "
                              "different probes")
        mask = np.ones(len(pids), bool)
        if twin_of is not None:
            tested = set(pids)
            mask = np.array([twin_of.get(p) in tested for p in pids], bool)
        if not mask.any():
            continue
        a, b = better.hits[key][mask], worse.hits[key][mask]
        kept_a.append(a)
        kept_b.append(b)
        diffs.append(100.0 * (a.mean() - b.mean()))
    return Paired(np.asarray(diffs, float), kept_a, kept_b)


def evaluate_claim(claim: dict, rows: pd.DataFrame, twins: dict[str, dict[int, int]],
                   min_trainings: int = MIN_TRAININGS) -> list[dict]:
    """One row per dataset that ran the claim's experiment."""
    out = []
    rows = rows[rows["experiment"] == claim["experiment"]]
    for dataset, part in rows.groupby("dataset", sort=True):
        lengths = claim.get("lengths", [None, None])
        twin_of = None
        if claim.get("queries") == "twins":
            if dataset not in twins:
                continue
            twin_of = twins[dataset]
        better = _scored(part, claim["better"], lengths[0])
        options = claim["worse"] if isinstance(claim["worse"], list) else [claim["worse"]]
        record = {"claim": claim["claim"], "dataset": dataset, "better": claim["better"],
                  "skipped": ""}
        scored = {o: s for o in options if (s := _scored(part, o, lengths[1])) is not None}
        if better is not None and not lengths[0]:
            identical = [o for o, s in scored.items() if same_function(better, s)]
            scored = {o: s for o, s in scored.items() if o not in identical}
            record["skipped"] = ", ".join(f"{o} (same trained models)" for o in identical)
        if better is None or not scored:
            out.append({**record, "worse": ", ".join(options), "n_trainings": 0,
                        "n_query_trials": 0, "verdict": "not run"})
            continue
        pairs = {o: pair(better, s, twin_of) for o, s in scored.items()}
        worse_name = max(pairs, key=lambda o: pairs[o].rank1(pairs[o].worse)
                         if pairs[o].n_trainings else -1.0)  # max keeps the first of ties
        paired = pairs[worse_name]
        if lengths[0]:
            record["better"] = f"{claim['better']} @ {lengths[0]}"
            worse_name = f"{worse_name} @ {lengths[1]}"
        mean, low, high = training_interval(paired.per_training)
        a = np.concatenate(paired.better) if paired.better else np.zeros(0, bool)
        b = np.concatenate(paired.worse) if paired.worse else np.zeros(0, bool)
        out.append({**record, "worse": worse_name, "better_r1": paired.rank1(paired.better),
                    "worse_r1": paired.rank1(paired.worse), "diff_pp": mean, "ci_low": low,
                    "ci_high": high, "n_trainings": paired.n_trainings,
                    "n_query_trials": len(a), "mcnemar_p": mcnemar_p(a, b) if len(a) else np.nan,
                    "verdict": verdict(low, high, paired.n_trainings, min_trainings)})
    return out


def claims_table(rows: pd.DataFrame, claims: list[dict], twins: dict[str, dict[int, int]],
                 min_trainings: int = MIN_TRAININGS) -> pd.DataFrame:
    """Every claim on every dataset, in COLUMNS order."""
    records = [r for claim in claims
               for r in evaluate_claim(claim, rows, twins, min_trainings)]
    return pd.DataFrame(records, columns=COLUMNS)


def table1_half_width(rows: pd.DataFrame) -> float | None:
    """Median 95% half-width (pp) over trainings, over all pairs of Table I variants that
    share at least 2 trainings; None when there is no such pair."""
    widths = []
    for _, part in rows[rows["experiment"] == "table1"].groupby("dataset"):
        names = sorted(part["variant"].unique())
        scored = {n: _scored(part, n, None) for n in names}
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                paired = pair(scored[x], scored[y])
                if paired.n_trainings > 1:
                    _, low, high = training_interval(paired.per_training)
                    widths.append((high - low) / 2)
    return float(np.median(widths)) if widths else None


def _fmt(value: float, digits: int = 1) -> str:
    return "—" if pd.isna(value) else f"{value:.{digits}f}"


def render(table: pd.DataFrame, half_width: float | None,
           min_trainings: int = MIN_TRAININGS, title: str = "Claims of the paper") -> str:
    """Markdown: what was measured, what the run can resolve, then the table."""
    power = ("no Table I pair shares 2 trainings, so it cannot be measured"
             if half_width is None else
             f"median ±{half_width:.1f} percentage points over all pairs of Table I variants")
    ran = table[table["verdict"] != "not run"]
    enough = ran[ran["n_trainings"] >= min_trainings]
    scope = (f"{len(enough)} of {len(ran)} claims that ran have at least {min_trainings} "
             "trainings per side" + ("" if len(enough) else
                                      ": this run resolves none of them (add splits or seeds)"))
    head = (f"{title} (Liu et al., TCSVT) tested on this run's own results, with the training "
            "(one split and seed) as the unit of replication. diff_pp = rank-1(better) − "
            "rank-1(worse) in percentage points, the mean over the n_trainings trainings both "
            "sides have, each on the same probes; ci_low/ci_high = its 95% t interval over "
            f"trainings. Below {min_trainings} trainings the verdict is \"{TOO_FEW}\"; otherwise "
            "holds (interval above 0), refuted (below 0) or inconclusive. mcnemar_p: exact "
            "McNemar test of the pooled query-trials — these checkpoints only, not the "
            "training procedure. Where `worse` was a list, its best in this run is shown (ties: "
            "the first listed); alternatives that are the same trained models as `better` are "
            f"skipped. {scope}. Power (95% half-width from the trainings' spread): {power}.")
    shown = table.copy()
    for col in ("better_r1", "worse_r1", "diff_pp", "ci_low", "ci_high"):
        shown[col] = shown[col].map(_fmt)
    shown["mcnemar_p"] = shown["mcnemar_p"].map(lambda v: _fmt(v, 3))
    shown = shown.rename(columns={"mcnemar_p": "mcnemar_p (these checkpoints only)"})
    if not shown["skipped"].astype(bool).any():
        shown = shown.drop(columns="skipped")
    return head + "\n\n" + frame_markdown(shown)


def twin_map(manifest: str) -> dict[int, int]:
    """{pid: its appearance twin's pid} from a synthwalk manifest (`twin_pairs`)."""
    try:
        pairs = json.loads(Path(manifest).read_text())["twin_pairs"]
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"--twins: cannot read twin_pairs from {manifest} ({err})") from err
    return {int(a): int(b) for a, b in pairs} | {int(b): int(a) for a, b in pairs}


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
    parser.add_argument("--claims", help="claim list file (default: the paper's)")
    parser.add_argument("--builtin", default="paper_claims.yaml",
                        help="packaged claim list when --claims is not given "
                             "(paper_claims.yaml or ablation_claims.yaml)")
    parser.add_argument("--title", default="Claims of the paper", help="the table's first words")
    parser.add_argument("--min-trainings", type=int, default=MIN_TRAININGS,
                        help=f"trainings per side below which no verdict is given "
                             f"(default {MIN_TRAININGS})")
    parser.add_argument("--out", required=True, help="output prefix (.md and .csv)")
    args = parser.parse_args(argv)
    if args.min_trainings < 2:
        raise ConfigError(f"--min-trainings {args.min_trainings}: an interval over trainings "
                          "needs at least 2")
    filled = [p for p in args.rows if len(pd.read_parquet(p, columns=["experiment"]))]
    rows = read_rows(filled) if filled else pd.DataFrame(columns=["experiment", "dataset"])
    claims = load_claims(args.claims, args.builtin)
    table = claims_table(rows, claims, parse_twins(args.twins), args.min_trainings)
    write_text_atomic(f"{args.out}.csv", table.to_csv(index=False))
    write_text_atomic(f"{args.out}.md", render(table, table1_half_width(rows),
                                               args.min_trainings, args.title))
    log.info("claims:\n%s", table[["claim", "dataset", "diff_pp", "verdict"]].to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
