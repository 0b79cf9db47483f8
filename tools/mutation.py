"""Mutation testing of the modules named in issue #17, with mutmut 3.

mutmut runs the tests from ``<repo>/mutants``, where ``tests/conftest.py`` would look
for the real data in ``mutants/../shared``. So the repository (``src``, ``tests``,
``pyproject.toml``) is copied to a scratch directory next to a link to ``shared``, and
mutmut runs there; the working tree is never touched. mutmut's configuration (the
modules to mutate, the test files that exercise them) is ``[tool.mutmut]`` in
``pyproject.toml``.

The three modules have about 5,000 mutants and their tests include property tests
that take tens of seconds, so a full run does not fit on a busy 2-core machine.
``--sample N`` tests a uniform random sample of ``N`` mutants per module (fixed
``--seed``, so a run can be repeated and compared; the names go to
``<scratch>/sample.txt``); without it every mutant is tested.
Mutant names come from mutmut's own generator (``mutate_file_contents``), so the
sample is drawn from exactly the mutants mutmut creates.

Usage (from the repository root, with the dev venv's python)::

    nice -n 10 python tools/mutation.py --sample 60 --seed 17
    python tools/mutation.py --report-only        # scores of every mutant tested so far

The report gives killed / tested per module (timeouts count as killed, as mutmut
counts them: the mutant made the tests hang) and lists the survivors; ``mutmut show
NAME`` in the scratch directory prints a survivor's diff.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def _modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]
    return [str(p) for p in config["only_mutate"]]


def _dotted(path: str) -> str:
    """``src/levelfield/pricing/_recommend.py`` -> ``levelfield.pricing._recommend``."""
    return ".".join(Path(path).with_suffix("").parts[1:])


def prepare(scratch: Path) -> None:
    """A fresh copy of the repository in ``scratch/repo`` with ``scratch/repo/shared``
    linked to the real shared data (kept: mutmut's cached test statistics)."""
    repo = scratch / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        if (repo / name).exists():
            shutil.rmtree(repo / name)
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    link = repo / "shared"
    if not link.exists():
        link.symlink_to(SHARED)


def sample(modules: list[str], n: int | None, seed: int) -> list[str]:
    """Mutant names of every module (all, or ``n`` drawn uniformly per module)."""
    rng = random.Random(seed)
    names: list[str] = []
    for path in modules:
        mutated = mutate_file_contents(path, (ROOT / path).read_text("utf-8"))
        own = sorted(f"{_dotted(path)}.{m}" for m in mutated.mutant_names)
        names += own if n is None or n >= len(own) else sorted(rng.sample(own, n))
    return names


def run(repo: Path, names: list[str], max_children: int) -> int:
    """``mutmut run`` on ``names`` in ``repo``; one BLAS thread per test worker."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(max_children), *names]
    return subprocess.call(cmd, cwd=repo, env=env)


def report(repo: Path, modules: list[str], names: list[str] | None) -> dict[str, object]:
    """Killed / tested per module from mutmut's result files, and the survivors."""
    out: dict[str, object] = {}
    for path in modules:
        meta = json.loads((repo / "mutants" / f"{path}.meta").read_text("utf-8"))
        codes: dict[str, int | None] = meta["exit_code_by_key"]
        chosen = set(names) if names is not None else set(codes)
        wanted = [k for k in codes if k in chosen]
        status = {k: status_by_exit_code[codes[k]] for k in wanted}
        tested = {k: s for k, s in status.items() if s != "not checked"}
        killed = sorted(k for k, s in tested.items() if s in KILLED)
        out[_dotted(path)] = {
            "mutants": len(codes),
            "tested": len(tested),
            "killed": len(killed),
            "score": round(len(killed) / len(tested), 3) if tested else None,
            "survived": sorted(k for k, s in tested.items() if s == "survived"),
            "other": {k: s for k, s in tested.items() if s not in KILLED | {"survived"}},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/lf-mut"))
    parser.add_argument("--sample", type=int, default=None, help="mutants per module")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    modules = _modules()
    repo = args.scratch / "repo"
    names: list[str] | None = None  # report-only: every mutant mutmut has tested
    if not args.report_only:
        names = sample(modules, args.sample, args.seed)
        (args.scratch / "sample.txt").parent.mkdir(parents=True, exist_ok=True)
        (args.scratch / "sample.txt").write_text("\n".join(names) + "\n", "utf-8")
        prepare(args.scratch)
        code = run(repo, names, args.max_children)
        if code not in (0, 1):
            return code
    result = report(repo, modules, names)
    for module, r in result.items():
        assert isinstance(r, dict)
        print(f"{module}: {r['killed']} / {r['tested']} killed ({r['score']}) of {r['mutants']}")
        for name in r["survived"]:
            print(f"  survived {name}")
        for name, status in r["other"].items():
            print(f"  {status} {name}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
