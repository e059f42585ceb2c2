"""The conda env files (envs/*.yaml) are valid and agree with pyproject.toml and the rules.

They cannot be built here (no conda channels), so they are checked statically: YAML shape,
conda match specs (py-rattler), PEP 508 pip lines, lower bounds against pyproject.toml, one env
per rule family, and that each env provides every third-party module imported by the
``python -m amoc...`` commands of the rules that use it.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = REPO_ROOT / "envs"
ENV_FILES = sorted(ENV_DIR.glob("*.yaml"))
RULE_FILES = sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk"))
FAMILIES = {"data", "flow", "torch", "report"}
# conda-forge name -> the PyPI distribution pyproject.toml names for the same package
CONDA_TO_PYPI = {"pytorch": "torch", "py-opencv": "opencv-contrib-python-headless"}
# top-level import name -> PyPI distribution providing it
IMPORT_TO_PYPI = {
    "cv2": "opencv-contrib-python-headless", "jsonschema": "jsonschema",
    "matplotlib": "matplotlib", "numpy": "numpy", "pandas": "pandas", "pyarrow": "pyarrow",
    "scipy": "scipy", "torch": "torch", "tqdm": "tqdm", "yaml": "pyyaml",
}
# pandas reads and writes every result and index as Parquet, through pyarrow
IMPLIED = {"pandas": {"pyarrow"}}
RULE_RE = re.compile(r"^(?:rule|checkpoint)\s+(\w+):", re.MULTILINE)
CONDA_RE = re.compile(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", re.MULTILINE)
MODULE_RE = re.compile(r"python -m (amoc[\w.]*)")


def env_ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@cache
def load_env(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def conda_specs(env: dict) -> list[str]:
    return [d for d in env["dependencies"] if isinstance(d, str)]


def pip_lines(env: dict) -> list[str]:
    return [line for d in env["dependencies"] if isinstance(d, dict) for line in d["pip"]]


def pip_requirements(env: dict) -> list[Requirement]:
    """The pip lines that parse as requirements (the others fail their own test)."""
    found = []
    for line in pip_lines(env):
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return found


def lower_bound(specifier: str) -> Version | None:
    """The ``>=`` bound of a version spec such as ``>=2.0`` or ``>=2.0,<3`` (None if absent)."""
    bounds = [Version(p.strip()[2:]) for p in specifier.split(",") if p.strip().startswith(">=")]
    return max(bounds, default=None)


@cache
def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def pyproject_bounds() -> dict[str, Version | None]:
    reqs = [Requirement(r) for r in pyproject()["project"]["dependencies"]]
    return {canonicalize_name(r.name): lower_bound(str(r.specifier)) for r in reqs}


def env_bounds(env: dict) -> dict[str, list[Version | None]]:
    """PyPI name -> the lower bounds the env file gives it (conda and pip entries)."""
    from rattler import MatchSpec

    bounds: dict[str, list[Version | None]] = {}
    for spec in conda_specs(env):
        ms = MatchSpec(spec, strict=True)
        name = ms.name.normalized
        name = canonicalize_name(CONDA_TO_PYPI.get(name, name))
        bounds.setdefault(name, []).append(lower_bound(ms.version or ""))
    for req in pip_requirements(env):
        bounds.setdefault(canonicalize_name(req.name), []).append(lower_bound(str(req.specifier)))
    return bounds


@pytest.fixture(scope="module")
def rattler():
    try:
        import rattler
        import rattler.exceptions
    except ImportError as err:
        pytest.skip(f"py-rattler is not installed ({err}); pip install -e '.[test]'")
    return rattler


def rules() -> list[tuple[str, str, str | None, list[str]]]:
    """(rule file, rule name, conda path or None, python -m modules) of every workflow rule."""
    found = []
    for path in RULE_FILES:
        text = path.read_text()
        starts = [m.start() for m in RULE_RE.finditer(text)] + [len(text)]
        for begin, end in itertools.pairwise(starts):
            block = text[begin:end]
            conda = CONDA_RE.search(block)
            found.append((path.name, RULE_RE.match(block).group(1),
                          conda.group(1) if conda else None, MODULE_RE.findall(block)))
    return found


def rule_env(conda: str) -> Path:
    """A rule file's conda: path, resolved like Snakemake does (relative to the rule file)."""
    return (REPO_ROOT / "workflow" / "rules" / conda).resolve()


def module_file(name: str) -> Path | None:
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path, module: str) -> list[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = node.module if not node.level else ".".join(
                parts + ([node.module] if node.module else []))
            names += [base, *(f"{base}.{a.name}" for a in node.names)]
    return names


@cache
def third_party_imports(module: str) -> frozenset[str]:
    """Top-level third-party modules imported anywhere in ``module``'s amoc import closure
    (function-level imports included, so lazily imported dependencies count too)."""
    seen, found, todo = set(), set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or (path := module_file(name)) is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run too
        for imported in _imported_names(path, name):
            top = imported.split(".")[0]
            if top == "amoc":
                todo.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return frozenset(found)


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_env_file_has_channels_and_dependencies(path: Path) -> None:
    env = load_env(path)
    assert isinstance(env, dict), f"{path}: not a YAML mapping"
    channels, deps = env.get("channels"), env.get("dependencies")
    assert isinstance(channels, list) and channels, f"{path}: 'channels' missing or empty"
    assert all(isinstance(c, str) and c for c in channels), f"{path}: bad channel in {channels}"
    assert isinstance(deps, list) and deps, f"{path}: 'dependencies' missing or empty"
    subs = [d for d in deps if not isinstance(d, str)]
    assert all(isinstance(d, dict) and list(d) == ["pip"] for d in subs), f"{path}: {subs}"
    assert len(subs) <= 1, f"{path}: more than one pip sub-list"
    if subs:
        assert isinstance(subs[0]["pip"], list) and subs[0]["pip"], f"{path}: empty pip list"
        assert "pip" in conda_specs(env), f"{path}: a pip sub-list needs 'pip' as a dependency"


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_conda_dependencies_are_valid_match_specs(path: Path, rattler) -> None:
    for spec in conda_specs(load_env(path)):
        try:
            rattler.MatchSpec(spec, strict=True)
        except rattler.exceptions.InvalidMatchSpecError as err:
            pytest.fail(f"{path}: {spec!r} is not a valid conda match spec: {err}")


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_pip_lines_are_pep508_requirements_not_local_paths(path: Path) -> None:
    # Snakemake builds an env from its copy in .snakemake/conda/<hash>.yaml and conda runs pip
    # from that folder, so a relative path such as `-e ../` would not point at this project.
    for line in pip_lines(load_env(path)):
        try:
            Requirement(line)
        except InvalidRequirement as err:
            pytest.fail(f"{path}: pip line {line!r} is not a PEP 508 requirement ({err}); "
                        "local paths resolve against Snakemake's copy of the env file")


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_lower_bounds_agree_with_pyproject(path: Path, rattler) -> None:
    expected = pyproject_bounds()
    for name, bounds in env_bounds(load_env(path)).items():
        if name in expected and expected[name] is not None:
            assert bounds == [expected[name]], (
                f"{path}: {name} lower bound(s) {[str(b) for b in bounds]} != pyproject.toml's "
                f">={expected[name]}")


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_python_pin_satisfies_requires_python(path: Path, rattler) -> None:
    pins = [rattler.MatchSpec(s, strict=True) for s in conda_specs(load_env(path))]
    pins = [ms for ms in pins if ms.name.normalized == "python"]
    assert len(pins) == 1 and pins[0].version, f"{path}: pin python (e.g. python=3.11)"
    version = pins[0].version.removesuffix(".*").lstrip("=")
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires.contains(version), f"{path}: python {version} outside {requires}"


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_cv2_comes_from_one_package(path: Path, rattler) -> None:
    names = {canonicalize_name(rattler.MatchSpec(s, strict=True).name.normalized)
             for s in conda_specs(load_env(path))}
    names |= {canonicalize_name(req.name) for req in pip_requirements(load_env(path))}
    providers = names & {"py-opencv", "opencv", "libopencv", "opencv-python",
                         "opencv-python-headless", "opencv-contrib-python",
                         "opencv-contrib-python-headless"}
    assert len(providers) <= 1, f"{path}: cv2 installed twice, by {sorted(providers)}"


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r[1])
def test_every_rule_names_an_existing_env_file(rule: tuple) -> None:
    smk, name, conda, modules = rule
    assert conda is not None, f"{smk}: rule {name} has no conda: directive"
    env = rule_env(conda)
    assert env.is_file() and env.parent == ENV_DIR, f"{smk}: rule {name}: {conda} -> {env}"
    assert modules, f"{smk}: rule {name} runs no `python -m amoc...` command"


def test_every_rule_family_has_its_env_and_every_env_is_used() -> None:
    used = {rule_env(conda).stem for smk, _, conda, _ in rules() if conda}
    assert {p.stem for p in ENV_FILES} == FAMILIES, sorted(p.name for p in ENV_FILES)
    assert used == FAMILIES, f"env files used by rules: {sorted(used)}"


@pytest.mark.parametrize("rule", [r for r in rules() if r[2]], ids=lambda r: r[1])
def test_env_provides_every_import_of_its_rule(rule: tuple, rattler) -> None:
    smk, name, conda, modules = rule
    env_path = rule_env(conda)
    provided = set(env_bounds(load_env(env_path)))
    for module in modules:
        assert module_file(module) is not None, f"{smk}: rule {name}: no module {module}"
        imports = set(third_party_imports(module))
        imports |= {x for i in imports for x in IMPLIED.get(i, ())}
        unknown = sorted(imports - set(IMPORT_TO_PYPI))
        assert not unknown, f"{module} imports {unknown}: add them to IMPORT_TO_PYPI here"
        missing = sorted({IMPORT_TO_PYPI[i] for i in imports} - provided)
        assert not missing, (f"{smk}: rule {name} runs {module}, which imports {missing}, "
                             f"but {env_path.name} does not list them")


def test_import_closure_sees_lazy_and_relative_imports() -> None:
    # fig5 reaches matplotlib only through amoc.report.figures; the flow store needs cv2
    assert {"torch", "matplotlib", "cv2"} <= third_party_imports("amoc.report.fig5")
    assert "cv2" in third_party_imports("amoc.flow.store")
    assert "torch" not in third_party_imports("amoc.data.cache")


@pytest.mark.parametrize("path", ENV_FILES, ids=env_ids(ENV_FILES))
def test_every_env_installs_amoc_from_the_repository(path: Path) -> None:
    # Snakemake runs <env>.post-deploy.sh inside a new env; AMOC_ROOT comes from the workflow.
    script = path.with_name(f"{path.stem}.post-deploy.sh")
    assert script.resolve() == ENV_DIR / "install-amoc.sh", f"{script} must link install-amoc.sh"
    assert 'pip install --no-deps -e "${AMOC_ROOT' in script.read_text()
    assert "os.environ.update(AMOC_ROOT=workflow.basedir)" in (
        REPO_ROOT / "workflow" / "rules" / "common.smk").read_text()


@pytest.mark.slow
def test_a_rule_runs_from_another_working_directory_without_the_repo_on_sys_path(
        tmp_path: Path) -> None:
    config = {"datasets": {"synthwalk": {"source": "synthwalk", "n_splits": 1, "synthwalk": {
                  "n_ids": 2, "min_len": 2, "max_len": 3, "seed": 0, "twin_fraction": 0.0}}},
              "flow_methods": ["lk"], "pretrain": {"dataset": "synthwalk"}, "model": {},
              "train": {}, "eval": {}, "experiments": {}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    code = "import amoc, json, sys; print(json.dumps(sys.path))"
    probe = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert str(REPO_ROOT) not in json.loads(probe)  # amoc imports, but not via the repo root
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory",
         str(tmp_path / "run"), "--configfile", str(tmp_path / "run.yaml"), "--cores", "1",
         "results/data/synthwalk/index.parquet"], cwd=tmp_path, env=env, capture_output=True,
        text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "results" / "data" / "synthwalk" / "index.parquet").is_file()
