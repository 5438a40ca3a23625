"""Reuse gain on other seeds: the table and the goal's verdict of ``bench_reuse_gain.py`` on
seeds 200-209.

Run with ``python benchmarks/bench_reuse_gain_replication.py`` (or ``python -m benchmarks
--only reuse_gain_replication``). The rules of the methods were tuned over the stops on
seeds 10-29 and 100-149 (their Notes say which), and some were checked on the benchmark's
own seeds 0-9 as well. Seeds 200-209, fixed at stop 40 before any result on them was
looked at, were used by none of them: the same families, datasets, shots and settings,
with fresh draws, show how much of the verdict holds beyond the seeds it was read on.
"""

import importlib.util
from pathlib import Path

SEEDS = range(200, 210)


def _fresh_reuse_gain():
    """``bench_reuse_gain`` loaded anew: its tables of bounds are module globals, filled by
    each run (so that a run of the main benchmark in the same process does not mix in)."""
    path = Path(__file__).resolve().parent / "bench_reuse_gain.py"
    spec = importlib.util.spec_from_file_location("_reuse_gain_replication", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(seeds=SEEDS):
    bench = _fresh_reuse_gain()
    results, regression, elapsed, reach, _ = bench.run(bench.PLAN, seeds)
    return "\n".join(
        [
            f"## Reuse gain on other seeds ({seeds[0]}-{seeds[-1]})",
            "",
            __doc__.split("\n\n", 1)[1].strip(),
            "",
            f"The reuse-gain table of the section above, on {len(seeds)} other seeds "
            f"(seeds {seeds[0]}-{seeds[-1]}); the bounds that set which cells count are "
            "those of these seeds (their tables are not repeated). "
            f"Computed in {elapsed:.0f} s.",
            "",
            bench.table(results, bench.PLAN, reach),
            "",
            regression,
        ]
    )


if __name__ == "__main__":
    print(main())
