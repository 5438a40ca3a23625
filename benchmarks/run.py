"""Run every ``benchmarks/bench_*.py`` and write ``benchmarks/results.md``.

Usage (from the repository root)::

    python benchmarks/run.py                 # all benchmarks
    python -m benchmarks --only ncm          # one (or several: --only ncm --only logme)
    python benchmarks/run.py --list

Each ``bench_<name>.py`` exposes ``main() -> str`` returning a markdown section. A
benchmark that raises is recorded in the file with its traceback; the others still run.
With ``--only``, the sections of the other benchmarks already in the file are kept.
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUTPUT = HERE / "results.md"
_SECTION = re.compile(r"<!-- bench: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /bench -->\n", re.S)


def discover():
    """``{name: path}`` of every ``bench_<name>.py`` next to this file, sorted by name."""
    return {p.stem[len("bench_") :]: p for p in sorted(HERE.glob("bench_*.py"))}


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_description():
    """Markdown lines describing the machine and the software the numbers come from."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        gpu = "none (torch not installed)"
    packages = ["numpy", "scipy", "scikit-learn", "torch", "skorch", "POT", "skreuse"]
    return [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
        f"skreuse commit `{_git_commit()}`",
        f"- CPU: {_cpu_model()}; {os.cpu_count()} logical cores, {usable} usable by this run",
        f"- GPU: {gpu}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}; "
        + ", ".join(f"{p} {_version(p)}" for p in packages),
    ]


def run_one(name, path):
    """Run one benchmark; returns ``(markdown, seconds, ok)``."""
    start = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(f"benchmarks.bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        text = module.main()
        if not isinstance(text, str):
            raise TypeError(f"main() returned {type(text).__name__}, expected a markdown str.")
        ok = True
    except Exception:  # one broken benchmark must not lose the others' results
        text = f"## {name}\n\n**FAILED**:\n\n```\n{traceback.format_exc()}```\n"
        ok = False
    return text.rstrip() + "\n", time.perf_counter() - start, ok


def _read_sections(path):
    if not path.exists():
        return {}
    return {m["name"]: m["body"] for m in _SECTION.finditer(path.read_text())}


def write_results(path, sections, total_seconds, ran=None):
    """Write the header and the sections (``{name: markdown}``, sorted by name) to ``path``;
    ``ran``: the names of the sections this run wrote (all of them when None)."""
    ran = sorted(sections if ran is None else ran)
    kept = sorted(set(sections) - set(ran))
    wall = f"- Wall time of the last run ({', '.join(ran)}): {total_seconds:.0f} s"
    if kept:
        wall += (
            f"; kept from earlier runs: {', '.join(kept)} (each section's last line gives "
            "its time, and the commit and date of its run where known)"
        )
    lines = [
        "# skreuse benchmarks",
        "",
        "Written by `python benchmarks/run.py` (`make bench`). Each section times skreuse "
        "against the straightforward baseline (and a reference implementation where one "
        "installs), side by side in the same run.",
        "",
        "## Machine",
        "",
        *machine_description(),
        wall,
        "",
    ]
    for name in sorted(sections):
        lines += [f"<!-- bench: {name} -->", sections[name].rstrip(), "<!-- /bench -->", ""]
    path.write_text("\n".join(lines))


def main(argv=None):
    """Command line entry point; returns the exit status (1 when a benchmark failed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (bench_NAME.py); repeat for several",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown file")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    benches = discover()
    if args.list:
        print("\n".join(benches))
        return 0
    selected = benches
    if args.only:
        wanted = [re.sub(r"^bench_|\.py$", "", n) for n in args.only]
        unknown = [n for n in wanted if n not in benches]
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {sorted(benches)}")
        selected = {n: benches[n] for n in wanted}

    for path in (str(ROOT), str(HERE)):
        if path not in sys.path:
            sys.path.insert(0, path)
    sections = _read_sections(args.output) if args.only else {}
    commit = _git_commit()
    date = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d} UTC"
    start = time.perf_counter()
    failed = []
    for name, path in selected.items():
        print(f"[{name}] running...", flush=True)
        text, seconds, ok = run_one(name, path)
        sections[name] = f"{text}\n_{name}: {seconds:.1f} s, commit `{commit}`, {date}_\n"
        print(text, flush=True)
        print(f"[{name}] {'done' if ok else 'FAILED'} in {seconds:.1f} s", flush=True)
        if not ok:
            failed.append(name)
    write_results(args.output, sections, time.perf_counter() - start, ran=list(selected))
    print(f"Wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
