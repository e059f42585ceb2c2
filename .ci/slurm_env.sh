# Sourced by .ci/run: install a real SLURM for tests/test_slurm.py (it starts a private one-node
# cluster as root) and tell that test what to expect. Once the packages are installed,
# AMOC_REQUIRE_SLURM=1 turns "the cluster did not come up" into a test failure; where they cannot
# be installed, AMOC_SLURM_SKIP_REASON says why, and the test's skip reason (listed by pytest -rs
# in the test summary) carries it. tests/test_ci.py runs this file against stub commands.
slurm_packages=(slurmctld slurmd slurm-client munge)
unset AMOC_REQUIRE_SLURM AMOC_SLURM_SKIP_REASON
if [ "$(id -u)" -ne 0 ]; then
  export AMOC_SLURM_SKIP_REASON="ci: not root, so ${slurm_packages[*]} were not installed"
elif ! command -v apt-get >/dev/null; then
  export AMOC_SLURM_SKIP_REASON="ci: no apt-get, so ${slurm_packages[*]} were not installed"
else
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq --no-install-recommends "${slurm_packages[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      apt-get install -y -qq --no-install-recommends "${slurm_packages[@]}" >/dev/null 2>&1; }; then
    export AMOC_REQUIRE_SLURM=1
  else
    export AMOC_SLURM_SKIP_REASON="ci: apt-get could not install ${slurm_packages[*]}"
  fi
fi
if [ -n "${AMOC_REQUIRE_SLURM:-}" ]; then
  echo "ci: installed ${slurm_packages[*]}; tests/test_slurm.py must pass" >&2
else
  echo "${AMOC_SLURM_SKIP_REASON}; tests/test_slurm.py will skip" >&2
fi
