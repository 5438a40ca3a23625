"""Tally of the hostile-input sweep (``tests/test_hostile_inputs.py``): cases per outcome.

Usage (from the repository root)::

    python benchmarks/hostile_sweep.py            # the tally and every failing case
    python benchmarks/hostile_sweep.py --all      # also list the passing cases

Outcomes: "clear error" and "correct" pass; "silent wrong", "obscure error", "memory"
and "numpy warning" (numpy warned of an overflow or invalid value on a line of skreuse)
fail. Cases marked as fixed on another branch are tallied apart ("excluded") so the
numbers say what this branch does.
"""

import argparse
import collections
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_sweep():
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(
        "_hostile_sweep", ROOT / "tests" / "test_hostile_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="list passing cases too")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore")
    sweep = _load_sweep()
    start = time.perf_counter()
    tally = collections.Counter()
    excluded = collections.Counter()
    rows = []
    for case in sweep.CASES:
        outcome, detail = sweep.classify(case)
        (excluded if case.xfail else tally)[outcome] += 1
        if args.all or case.xfail or outcome not in sweep._OK:
            note = case.xfail or ""
            if case.xfail and outcome in sweep._OK:
                note += ", passes already: XPASS"
            rows.append((case.id, outcome, note, detail))
    elapsed = time.perf_counter() - start
    covered = sweep.covered()
    print(
        f"hostile-input sweep: {len(sweep.CASES)} cases over {len(covered)} estimators/"
        f"functions in {elapsed:.1f} s"
    )
    print(f"covered: {', '.join(covered)}\n")
    print(f"{'outcome':<15}{'cases':>7}{'excluded':>10}")
    for outcome in sweep.OUTCOMES:
        print(f"{outcome:<15}{tally[outcome]:>7}{excluded[outcome]:>10}")
    print(f"{'total':<15}{sum(tally.values()):>7}{sum(excluded.values()):>10}")
    print(
        "\n(excluded: cases fixed on another branch, marked xfail(strict=True) in the test;"
        "\n listed below when they fail, as expected, or pass, which the test reports as XPASS)"
    )
    if rows:
        print()
        for case_id, outcome, xfail, detail in rows:
            note = f" [{xfail}]" if xfail else ""
            print(f"- {case_id}: {outcome}{note} — {detail[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
