"""config_hash is the name of every trained model and evaluation on disk: it must not depend on
the process (hash seed, dict order) or the Python version, or a rerun retrains everything."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from amoc.experiments import plan
from amoc.provenance import config_hash
from tests.conftest import REPO_ROOT
from tests.test_experiments import paper_config

CONFIG = {"b": [1, 2.0, {"z": None, "a": "x"}], "a": 2, "lr": 1e-3, "name": "crops8_flip"}
# The canonical text written out by hand (sorted keys, 2.0 -> 2, json.dumps separators): the
# hash is its SHA-256 prefix on any Python version.
CANONICAL = b'{"a": 2, "b": [1, 2, {"a": "x", "z": null}], "lr": 0.001, "name": "crops8_flip"}'

PLAN_HASHES = """
import json, sys
import yaml
from snakemake.utils import update_config
from amoc.experiments import plan
from amoc.experiments import plan
from amoc.provenance import config_hash
root = sys.argv[1]
config = yaml.safe_load(open(root + "/config/config.yaml"))
update_config(config, yaml.safe_load(open(root + "/config/paper.yaml")))
p = plan(config)
print(json.dumps({"config": config_hash(json.loads(sys.argv[2])),
                  "train": sorted(p.train_jobs), "eval": sorted(map(list, p.eval_jobs))}))
"""


def test_hash_is_the_sha256_of_the_canonical_text() -> None:
    assert config_hash(CONFIG) == hashlib.sha256(CANONICAL).hexdigest()[:16]
    reordered = {"name": "crops8_flip", "lr": 0.001, "a": 2.0, "b": [1.0, 2, {"a": "x", "z": None}]}
    assert config_hash(reordered) == config_hash(CONFIG)
    assert config_hash({**CONFIG, "a": 3}) != config_hash(CONFIG)


def _in_process(seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run([sys.executable, "-c", PLAN_HASHES, str(REPO_ROOT),
                             json.dumps(CONFIG)], capture_output=True, text=True, env=env,
                            cwd=REPO_ROOT, check=False, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_hashes_are_the_same_in_processes_with_other_hash_seeds() -> None:
    """The paper preset's model and evaluation hashes, planned in two fresh interpreters with
    different string-hash seeds (as Snakemake and a job are), agree with this process's."""
    first, second = _in_process("1"), _in_process("4242")
    assert first == second
    assert first["config"] == config_hash(CONFIG)
    here = plan(paper_config())
    assert first["train"] == sorted(here.train_jobs)
    assert first["eval"] == sorted(map(list, here.eval_jobs))
