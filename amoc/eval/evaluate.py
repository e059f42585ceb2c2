"""Evaluate a trained model on a split's test persons: ``python -m amoc.eval.evaluate``.

Usage:
    python -m amoc.eval.evaluate --model model.pt --cache DIR --split FILE [--flow-store DIR]
        --eval-config JSON --out rows.parquet --dataset NAME [--experiment E] [--variant V]

Probe/gallery: on iLIDS-VID, PRID-2011 and synthwalk the test persons' camera-0 sequences are the
probes and their camera-1 sequences the gallery (Sec. IV-B). On MARS (an index with query rows)
the queries are the ``is_query`` test tracklets and the gallery is every test tracklet
(official protocol) or the test tracklets minus queries and pid -1 (torchreid protocol). One
result row per test length.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from amoc.cli import run_command
from amoc.config import EvalConfig
from amoc.data.cache import FrameCache
from amoc.errors import AmocError
from amoc.eval.features import extract_features, tta_distmat
from amoc.eval.metrics import evaluate_detailed
from amoc.plugins.model import inference_model, model_label
from amoc.provenance import code_version, config_hash, library_versions
from amoc.report.results import LengthMetrics, make_rows, write_rows
from amoc.train.checkpoint import read_checkpoint
from amoc.train.inputs import (
    needs_offline_flow,
    open_flow,
    parse_json_arg,
    read_split,
    resolve_device,
)

log = logging.getLogger(__name__)


def probe_gallery(index: pd.DataFrame, test_pids: list[int],
                  protocol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select the probe (query) and gallery tracklets of the test set (see module docstring)."""
    if index["is_query"].any():  # MARS
        test = index[index["subset"] == "test"]
        gallery = test
        if protocol == "torchreid":
            gallery = test[~test["is_query"] & (test["pid"] != -1)]
        return test[test["is_query"]], gallery
    test = index[index["pid"].isin(test_pids)]
    return test[test["camid"] == 0], test[test["camid"] == 1]


def _sequences(rows: pd.DataFrame, store: np.ndarray | None) -> list[np.ndarray] | None:
    """Memmap views of each tracklet's rows of a frame cache or flow store."""
    if store is None:
        return None
    return [store[o:o + n] for o, n in zip(rows["offset"], rows["n_frames"], strict=True)]


def evaluate_length(model: nn.Module, frames: np.ndarray, flow: np.ndarray | None,
                    probe: pd.DataFrame, gallery: pd.DataFrame, length: int,
                    cfg: EvalConfig, device: torch.device, label: str = "model") -> LengthMetrics:
    """CMC/mAP of one test length, TTA distances averaged.

    Raises:
        AmocError: a feature is NaN or infinite (naming ``label``, the variant or class).
    """
    started = time.perf_counter()
    common = {"test_length": length, "tta": cfg.tta, "device": device,
              "translate": cfg.translate, "batch_size": cfg.batch_size}
    qf = extract_features(model, _sequences(probe, frames), _sequences(probe, flow),
                          take=cfg.probe_frames, **common)
    gf = extract_features(model, _sequences(gallery, frames), _sequences(gallery, flow),
                          take=cfg.gallery_frames, **common)
    for side, feats in (("probe", qf), ("gallery", gf)):
        if not torch.isfinite(feats).all():
            raise AmocError(f"{label}: evaluation at test length {length} gave NaN or infinite "
                            f"{side} features; the model diverged or its forward() is broken")
    ids = [rows[col].to_numpy(copy=True) for col in ("pid", "camid") for rows in (probe, gallery)]
    result = evaluate_detailed(tta_distmat(qf, gf), *ids, max_rank=20, protocol=cfg.protocol)
    cmc, mean_ap = result.cmc, result.mAP
    seconds = time.perf_counter() - started
    log.info("test length %d: rank-1 %.2f%%, mAP %.2f%% (%.1f s)", length, 100 * cmc[0],
             100 * mean_ap, seconds)
    return LengthMetrics(cmc=list(cmc), mAP=mean_ap, n_query=len(probe), n_gallery=len(gallery),
                         eval_seconds=seconds, query_pids=probe["pid"].tolist(),
                         first_match=result.first_match.tolist())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="amoc evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="trained checkpoint (amoc.train.run)")
    parser.add_argument("--cache", required=True, help="frame cache directory")
    parser.add_argument("--split", required=True, help="split JSON (test_pids)")
    parser.add_argument("--flow-store", help="offline flow store (rcn, amoc_offline)")
    parser.add_argument("--eval-config", default="{}", help="EvalConfig as a JSON object")
    parser.add_argument("--out", required=True, help="result rows (Parquet)")
    parser.add_argument("--dataset", required=True, help="dataset name for the rows")
    parser.add_argument("--experiment", default="adhoc", help="experiment label for the rows")
    parser.add_argument("--variant", help="variant label (default: the model's variant)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Evaluate every test length and write the result rows atomically."""
    args = parse_args(argv)
    cfg = EvalConfig.from_dict(parse_json_arg(args.eval_config, "--eval-config"))
    payload = read_checkpoint(args.model, "amoc-model")
    device = resolve_device(cfg.device)
    model = inference_model(payload, args.model, device, batch=cfg.batch_size,
                            seq_len=max(2, min(cfg.test_lengths)))
    label = model_label(payload["model_config"], args.variant)
    cache = FrameCache(args.cache)
    flow = open_flow(cache, args.flow_store, needs_offline_flow(payload["model_config"]))
    split = read_split(args.split)
    probe, gallery = probe_gallery(cache.index, split["test_pids"], cfg.protocol)
    log.info("%s: %d probes, %d gallery sequences", args.dataset, len(probe), len(gallery))
    per_length = {length: evaluate_length(model, cache.frames, flow, probe, gallery, length,
                                          cfg, device, label) for length in cfg.test_lengths}
    rows = make_rows(
        experiment=args.experiment, dataset=args.dataset,
        variant=args.variant or payload["model_config"].get("variant", "plugin"),
        split=int(split.get("split", 0)), protocol=cfg.protocol, seed=int(payload["seed"]),
        config_hash=config_hash({"model": payload["model_config"],
                                 "train": payload["train_config"], "eval": cfg.to_dict()}),
        code_version=code_version(), device=str(device),
        train_seconds=float(payload["train_seconds"]), per_length=per_length,
        library_versions=library_versions())
    write_rows(rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command(main))
