"""Jobs, cost and projected wall time of a config's DAG: ``amoc plan``.

Usage:
    amoc plan [--configfile config/paper.yaml] [--gpus G] [--jobs-per-gpu k]
        [--measured] [--paper-rate R] [--batched-rate R] [--gpu-ceiling R]
        [--lockstep K [--lockstep-rate R]]

Jobs are counted from ``amoc.experiments.plan`` (the plan the workflow builds its DAG from), so
no Snakemake run is needed. GPU costs are ESTIMATES from the H100 anchors (the figures the
project was planned with before any GPU run: ``PAPER_RATE``, ``BATCHED_RATE`` below) unless
measured rates are passed: ``--measured`` takes the H200 figures of bench/gpu_check.sh
(2026-12-04, bench/README.md), single flags override either; every cost line says which.
``--lockstep K`` trains the paper-mode splits of each variant K to a job (amoc.train.lockstep)
at ``--lockstep-rate`` aggregate frame pairs/s; without a measured rate those lines read
"unmeasured" and the projection keeps one training per job. Torch-free.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from snakemake.utils import update_config

from amoc.cli import run_command
from amoc.errors import ConfigError
from amoc.experiments import (
    Plan,
    PretrainKey,
    flow_error_nets,
    headline_variant,
    load_config,
    lockstep_groups,
    lockstep_shapes,
    milestone_experiments,
    plan,
    pretrain_persons,
    pretrain_source,
    runs_ablations,
    trainings_of,
    validate_config,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "config.yaml"
# H100 anchors (AMOC-shaped net, FlowNetS width, 128x64, T=16), frame pairs/s per training job.
PAPER_RATE = 4_200.0  # one pair per step, fp32
BATCHED_RATE = 34_000.0  # 128 sequences per step, bf16 + channels_last + torch.compile
JOB_OVERHEAD_S = 30.0  # start-up, cache mapping, model load per GPU job (assumed)
FORWARD_SPEEDUP = 3.0  # a forward pass is ~1/3 of a training step's work
TTA_COPIES = {"none": 1, "flip": 2, "crops8_flip": 16}
# (training identities, test sequences, mean frames per sequence), by reader / protocol.
DATASET_SIZES = {"ilidsvid": (150, 300, 73), "prid2011/paper200": (100, 200, 100),
                 "prid2011/standard178": (89, 178, 100), "mars": (625, 12_180, 58)}
FLOW_MS_PER_PAIR = {"lk": 41.0, "epic": 12.0, "farneback": 2.4, "dis": 1.7}  # 2 CPU cores
# bench/README.md, one NVIDIA H200, 2026-12-04: paper mode fp32, batched bf16 + channels_last,
# best aggregate of 1/2/4/8 concurrent paper-mode processes.
H200_MEASURED = {"paper": 1_814.0, "batched": 26_443.0, "ceiling": 3_181.0}
GOALS = ((1, 48.0), (8, 6.0))  # (GPUs, hours) for the whole matrix (issue 15)
FIG_KINDS = {"fig6a", "fig6b", "fig6c", "fig6d"}


@dataclass(frozen=True)
class Rates:
    """Frame pairs/s of one training job per mode, the most one GPU delivers, and their basis.

    Defaults: the H100 anchors; the ceiling is the batched bf16 + compile anchor.
    """

    paper: float = PAPER_RATE
    batched: float = BATCHED_RATE
    ceiling: float = BATCHED_RATE
    basis: str = ("ESTIMATE: H100 anchors 4,200 paper fp32 / 34,000 batched bf16+compile "
                  "frame pairs/s")
    lockstep_k: int = 1
    lockstep: float | None = None  # aggregate frame pairs/s of one K-model job; None: unmeasured


@dataclass(frozen=True)
class GpuJob:
    """One kind of GPU job: how many, seconds each when alone on a GPU, frame pairs/s it runs at."""

    rule: str
    dataset: str
    seconds: float
    rate: float
    detail: str
    count: int


def load_merged(configfile: str | None) -> dict:
    """config/config.yaml with ``configfile`` merged over it, as ``snakemake --configfile``.

    Raises:
        ConfigError: a missing or unreadable file, or one that is not a YAML mapping.
    """
    if configfile is None:
        return load_config(DEFAULT_CONFIG)
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    try:
        override = yaml.safe_load(Path(configfile).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"--configfile {configfile}: cannot read it ({err})") from err
    if not isinstance(override, dict):
        raise ConfigError(f"--configfile {configfile}: expected a YAML mapping of config keys, "
                          f"found {type(override).__name__}; see config/config.yaml")
    update_config(config, override)
    validate_config(config, source=configfile)
    return config


def _fig5_flows(p: Plan) -> dict[str, str]:
    """Dataset -> flow of the end-to-end model Fig. 5 draws (the first AMOC cell, as the DAG)."""
    out: dict[str, str] = {}
    for m in p.members:
        job = p.train_jobs[m.train_hash]
        if job.model.get("variant") == "amoc":  # a plug-in has no variant (and no motion net)
            out.setdefault(m.dataset, job.flow)
    return out


def _pretrain_keys(config: dict, p: Plan) -> set[PretrainKey]:
    """(source, flow, width, colour, persons) of every motion-net pre-training the DAG needs:
    those the AMOC models start from and the flow_error tables' references."""
    keys = {(pretrain_source(config, j.dataset)["dataset"], j.flow, j.model["motion_width"],
             j.model["colour"], pretrain_persons(config, j.dataset, k))
            for h, j in p.train_jobs.items() if j.model.get("variant") == "amoc"
            for k in {t.split for t in trainings_of(p, h)}}
    for dataset in _synthetic(config, p):
        keys |= set(flow_error_nets(config, p, dataset).values())
    return keys


def _synthetic(config: dict, p: Plan) -> set[str]:
    """The synthwalk datasets of the plan (each gets a flow_error table)."""
    return {m.dataset for m in p.members if config["datasets"][m.dataset]["source"] == "synthwalk"}


def _eval_splits(p: Plan) -> Counter:
    """(train_hash, eval_hash) -> trainings evaluated (the union over the cells it fills)."""
    evals: dict = {}
    for m in p.members:
        evals.setdefault((m.train_hash, m.eval_hash), set()).update(m.trainings)
    return Counter({key: len(trainings) for key, trainings in evals.items()})


def ranked_models(config: dict, p: Plan) -> set[tuple[str, str, str]]:
    """(dataset, train_hash, eval_hash) of every distinct headline model: one ranked figure each."""
    out = set()
    for name, exp in config["experiments"].items():
        head = headline_variant(exp, config)
        out |= {(m.dataset, m.train_hash, m.eval_hash) for m in p.members
                if m.experiment == name and m.variant == head}
    return out


def job_counts(config: dict, p: Plan) -> dict[str, int]:
    """Jobs per rule of the workflow's DAG for ``config`` (none done yet)."""
    amoc_jobs = [j for j in p.train_jobs.values() if j.model.get("variant") == "amoc"]
    sources = {j.dataset: pretrain_source(config, j.dataset)["dataset"] for j in amoc_jobs}
    flows = {(j.dataset, j.flow) for j in p.train_jobs.values() if j.flow and j not in amoc_jobs}
    flows |= {(sources[j.dataset], j.flow) for j in amoc_jobs}
    flows |= set(_fig5_flows(p).items())
    used = {m.dataset for m in p.members} | set(sources.values())
    synthetic = _synthetic(config, p)
    flows |= {(d, "gt") for d in synthetic}  # the flow_error table's reference
    splits = Counter()
    for m in p.members:
        splits[m.dataset] = max(splits[m.dataset], m.splits)
    exps = config["experiments"].values()
    counts = {
        "synthwalk": sum(config["datasets"][d]["source"] == "synthwalk" for d in used),
        "fetch": sum(config["datasets"][d]["source"] == "download" for d in used),
        "index": len(used), "cache": len(used), "split": sum(splits.values()),
        "flow": len(flows),
        "pretrain_motion": len(_pretrain_keys(config, p)),
        "train": sum(len(trainings_of(p, h)) for h in p.train_jobs),
        "evaluate": sum(_eval_splits(p).values()),
        "fig5": len(_fig5_flows(p)), "collect": len(config["experiments"]),
        "table": sum(e["kind"].startswith("table") for e in exps),
        "figure": sum(e["kind"] in FIG_KINDS for e in exps),
        "cmc_figure": sum(e["kind"].startswith("table") and bool(e["datasets"]) for e in exps),
        "flow_error": len(synthetic), "claims": 1,
        "curves": sum(bool(e["datasets"]) for e in exps),
        "ranked": len(ranked_models(config, p)),
        "ablations": int(runs_ablations(config)),
        "rank1_curves": len(milestone_experiments(config, p)),
        "page": (sum(e["kind"].startswith("table") for e in exps) + len(synthetic) + 1
                 + int(runs_ablations(config))),
        "all": 1,
    }
    groups = lockstep_groups(config, p)
    counts["train"] = sum(len(trainings_of(p, h)) for h in p.train_jobs if h not in groups)
    for i, (_, hashes) in enumerate(lockstep_shapes(groups)):
        counts[f"train_lockstep{i}"] = len(hashes)
    return {rule: n for rule, n in counts.items() if n}


def dataset_size(config: dict, dataset: str) -> tuple[int, int, float]:
    """(training identities, test sequences, mean frames per sequence) of ``dataset``."""
    spec = config["datasets"][dataset]
    if spec["source"] == "synthwalk":
        walk = spec.get("synthwalk", {})
        n_ids = walk.get("n_ids", 32)
        mean_len = (walk.get("min_len", 24) + walk.get("max_len", 48)) / 2
        return n_ids // 2, 2 * (n_ids - n_ids // 2), mean_len
    reader = spec.get("reader", dataset)
    if reader == "prid2011":
        reader = f"prid2011/{spec.get('protocol', 'paper200')}"
    return DATASET_SIZES[reader]


def train_seconds(train: dict, n_train_ids: int, rates: Rates) -> tuple[float, float]:
    """(seconds alone on one GPU, frame pairs/s) of one training job.

    Epoch = 2N pairs of two T-frame clips = 2N x 2 (T - 1) frame pairs in either mode.
    """
    rate = rates.paper if train.get("mode", "paper") == "paper" else rates.batched
    pairs = train.get("epochs", 1000) * 2 * n_train_ids * 2 * (train.get("seq_len", 16) - 1)
    return JOB_OVERHEAD_S + pairs / rate, rate


def eval_seconds(eval_: dict, n_test: int, mean_len: float, rates: Rates) -> float:
    """Seconds of one evaluation job: forward passes over every test sequence, length and copy."""
    copies = TTA_COPIES[eval_.get("tta", "crops8_flip")]
    steps = sum(min(length, mean_len) - 1 for length in eval_.get("test_lengths", [128]))
    return JOB_OVERHEAD_S + n_test * copies * steps / (FORWARD_SPEEDUP * rates.batched)


def gpu_jobs(config: dict, p: Plan, rates: Rates) -> list[GpuJob]:
    """Every GPU job of the DAG, grouped by (rule, dataset, cost)."""
    groups: Counter = Counter()
    for h, job in p.train_jobs.items():
        n_train = dataset_size(config, job.dataset)[0]
        seconds, rate = train_seconds(job.train, n_train, rates)
        t = job.train
        detail = (f"{t.get('epochs', 1000)} epochs x {2 * n_train} pairs x T={t.get('seq_len', 16)}"
                  f", {t.get('mode', 'paper')} mode")
        n = len(trainings_of(p, h))
        if rates.lockstep_k > 1 and rates.lockstep and t.get("mode", "paper") == "paper":
            seconds = rates.lockstep_k * (seconds - JOB_OVERHEAD_S) * rate / rates.lockstep
            seconds, rate, n = seconds + JOB_OVERHEAD_S, rates.lockstep, -(-n // rates.lockstep_k)
            detail += f", lockstep: {rates.lockstep_k} trainings per job"
        groups["train", job.dataset, seconds, rate, detail] += n
    for key, n in _eval_splits(p).items():
        job = p.eval_jobs[key]
        _, n_test, mean_len = dataset_size(config, job.dataset)
        detail = (f"{n_test} seqs x {TTA_COPIES[job.eval.get('tta', 'crops8_flip')]} TTA copies"
                  f" x lengths {job.eval.get('test_lengths', [128])}, forward = 3x batched rate")
        groups["evaluate", job.dataset, eval_seconds(job.eval, n_test, mean_len, rates),
               FORWARD_SPEEDUP * rates.batched, detail] += n
    pre = config["pretrain"]
    step_s = 2 * (config["train"].get("seq_len", 16) - 1) / rates.paper
    for src, *_ in _pretrain_keys(config, p):
        iters = pre.get("iterations", 60_000)
        groups["pretrain_motion", src, JOB_OVERHEAD_S + iters * step_s, rates.paper,
               f"{iters} it. x one paper-mode step's latency"] += 1
    for dataset in _fig5_flows(p):
        groups["fig5", dataset, JOB_OVERHEAD_S, rates.paper, "start-up only"] += 1
    return [GpuJob(*key, n) for key, n in groups.items()]


def speedup(rate: float, k: int, ceiling: float) -> float:
    """Aggregate speed of k such jobs on one GPU over one alone: linear until the GPU's ceiling."""
    return max(1.0, min(float(k), ceiling / rate))


def project_hours(jobs: list[GpuJob], gpus: int, per_gpu: int, ceiling: float) -> float:
    """Wall hours of the GPU work on G GPUs with k jobs each: the larger of (work / aggregate
    throughput) and the longest job alone (the tail runs solo once the pool drains)."""
    work = sum(j.count * j.seconds / speedup(j.rate, per_gpu, ceiling) for j in jobs) / gpus
    return max(work, max((j.seconds for j in jobs), default=0.0)) / 3600


def flow_hours(config: dict, p: Plan) -> float:
    """CPU hours of the longest offline-flow job that pre-training waits for (2 cores each)."""
    keys = _pretrain_keys(config, p)
    hours = [0.0]
    for src, method, *_ in keys:
        n_train, n_test, mean_len = dataset_size(config, src)
        frames = (2 * n_train + n_test) * mean_len
        hours.append(frames * FLOW_MS_PER_PAIR.get(method, FLOW_MS_PER_PAIR["lk"]) / 3.6e6)
    return max(hours)


def wall_hours(config: dict, p: Plan, jobs: list[GpuJob], gpus: int, per_gpu: int,
               ceiling: float) -> float:
    """Projected wall hours: offline flow, then pre-training, then the training/evaluation pool.

    Conservative where stages could overlap (they run in sequence here); CPU rules other than
    flow (data, tables, figures: minutes) are not counted.
    """
    pre = [j.seconds / 3600 for j in jobs if j.rule == "pretrain_motion"]
    pool = [j for j in jobs if j.rule != "pretrain_motion"]
    return flow_hours(config, p) + max(pre, default=0.0) + project_hours(pool, gpus, per_gpu,
                                                                           ceiling)


def report(config: dict, configfile: str, gpus: int, per_gpu: int, rates: Rates) -> str:
    """The printed plan: jobs per rule, cost per GPU job kind, projection, goals."""
    p = plan(config)
    counts = job_counts(config, p)
    jobs = gpu_jobs(config, p, rates)
    lines = [f"amoc plan: {configfile}", "", "jobs per rule (resolved DAG, amoc.experiments.plan):"]
    lines += [f"  {rule:16s} {n:6,d}" for rule, n in counts.items()]
    tag = "ESTIMATE" if "ESTIMATE" in rates.basis else "MEASURED rate"
    lines += [f"  {'total':16s} {sum(counts.values()):6,d}", "",
              f"cost per GPU job, alone on one GPU [{rates.basis}]:"]
    for j in sorted(jobs, key=lambda j: (j.rule, j.dataset, j.seconds)):
        lines.append(f"  {j.rule:16s} {j.dataset:10s} {j.count:4d} x {j.seconds / 60:6.1f} min "
                     f"at {j.rate:,.0f} frame pairs/s ({j.detail}; +{JOB_OVERHEAD_S:.0f} s "
                     f"start-up) [{tag}]")
    lines.append(f"  offline flow before pre-training: {flow_hours(config, p):.2f} h on 2 CPU "
                 "cores [ESTIMATE: ms/pair measured on 2 CPU cores, FLOW_MS_PER_PAIR]")
    model = (f"concurrency model [ESTIMATE]: k jobs on one GPU run at min(k x job rate, "
             f"{rates.ceiling:,.0f} frame pairs/s) in all; wall = flow + pre-training + "
             "max(pool work / (G x aggregate), longest job alone)")
    lines += ["", model, lockstep_line(rates), ""]
    wall = wall_hours(config, p, jobs, gpus, per_gpu, rates.ceiling)
    lines.append(f"projected wall time on G={gpus} GPU(s) x k={per_gpu} jobs: {wall:,.1f} h "
                 f"[{rates.basis}]")
    for goal_gpus, goal_h in GOALS:
        h = wall_hours(config, p, jobs, goal_gpus, per_gpu, rates.ceiling)
        verdict = "meets" if h <= goal_h else "MISSES"
        lines.append(f"goal: whole matrix within {goal_h:g} h on {goal_gpus} GPU(s): projected "
                     f"{h:,.1f} h with k={per_gpu} -> {verdict} the goal")
    return "\n".join(lines)


def lockstep_line(rates: Rates) -> str:
    """How paper-mode trainings are grouped into jobs, and whether that rate was measured."""
    if rates.lockstep_k <= 1:
        return "lockstep: off (one training per job; --lockstep K groups a variant's splits)"
    if not rates.lockstep:
        return (f"lockstep K={rates.lockstep_k}: unmeasured (no --lockstep-rate; run "
                "bench/gpu_check.sh): projected with one training per job")
    return (f"lockstep K={rates.lockstep_k}: {rates.lockstep:,.0f} frame pairs/s per job "
            "[MEASURED rate, given]")


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate > 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc plan", description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", help="merged over config/config.yaml, as in snakemake")
    parser.add_argument("--gpus", type=int, default=1, help="G: GPUs")
    parser.add_argument("--jobs-per-gpu", type=int, default=1, help="k: jobs sharing one GPU")
    parser.add_argument("--measured", action="store_true",
                        help="the H200 rates of bench/README.md (2026-12-04)")
    parser.add_argument("--paper-rate", type=_positive, help="measured frame pairs/s, paper mode")
    parser.add_argument("--batched-rate", type=_positive, help="measured frame pairs/s, batched")
    parser.add_argument("--gpu-ceiling", type=_positive,
                        help="measured aggregate frame pairs/s of concurrent jobs on one GPU")
    parser.add_argument("--lockstep", type=int, metavar="K",
                        help="paper-mode trainings of one variant per lockstep job (default: "
                             "the config's lockstep.max_models when lockstep.enabled, else 1)")
    parser.add_argument("--lockstep-rate", type=_positive,
                        help="measured aggregate frame pairs/s of one K-model lockstep job")
    args = parser.parse_args(argv)
    if args.gpus < 1 or args.jobs_per_gpu < 1 or (args.lockstep is not None and args.lockstep < 1):
        parser.error("--gpus, --jobs-per-gpu and --lockstep must be >= 1")
    return args


def rates_from(args: argparse.Namespace) -> Rates:
    """The anchors, replaced by whatever measured rates were given (and labelled so)."""
    lockstep = {"lockstep_k": args.lockstep, "lockstep": args.lockstep_rate}
    given = {k: v for k, v in (("paper", args.paper_rate), ("batched", args.batched_rate),
                                ("ceiling", args.gpu_ceiling)) if v is not None}
    measured = H200_MEASURED if args.measured else {}
    if not given and not measured:
        return Rates(**lockstep)
    values = {**measured, **given}
    missing = sorted({"paper", "batched", "ceiling"} - set(values))
    basis = "MEASURED (" + ("H200 2026-12-04" if measured else "") + (
        "; " if measured and given else "") + (
        "given: " + ", ".join(sorted(given)) if given else "") + ")"
    basis += f"; ESTIMATE for {', '.join(missing)}" if missing else ""
    anchors = Rates()
    batched = values.get("batched", anchors.batched)
    return Rates(values.get("paper", anchors.paper), batched, values.get("ceiling", batched),
                 basis, **lockstep)


def main(argv: list[str] | None = None) -> int:
    """Print the plan of ``--configfile``."""
    args = parse_args(argv)
    config = load_merged(args.configfile)
    if args.lockstep is None:
        settings = config.get("lockstep") or {}
        args.lockstep = int(settings.get("max_models", 40)) if settings.get("enabled") else 1
    print(report(config, args.configfile or str(DEFAULT_CONFIG), args.gpus, args.jobs_per_gpu,
                 rates_from(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
