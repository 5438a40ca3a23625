"""Turn mutmut's results (``mutants/``) into the mutation report ``benchmarks/mutation.md``.

Run from the repository root after ``mutmut run`` (``make mutation`` does both)::

    python benchmarks/mutation_report.py [--output benchmarks/mutation.md]

For each core module: the mutants generated, how many were checked, killed (a test failed,
or the mutant timed out), survived, had no covering test; the score is
``killed / (checked - equivalent)``. Every survivor is listed with its one-line diff, and
marked equivalent (with the reason) when it is listed in ``EQUIVALENT`` below. A survivor is
identified by its function and mutated line rather than by mutmut's mutant number, so the
marks survive edits elsewhere in the module.
"""

import argparse
import json
import re
from collections import Counter
from pathlib import Path

# The numerical core, in the order of the report.
CORE = [
    "skreuse/transferability.py",
    "skreuse/specification/_rkme.py",
    "skreuse/specification/_reuser.py",
    "skreuse/training/_biased_regularization.py",
    "skreuse/training/_hypothesis_transfer.py",
    "skreuse/training/_reform.py",
    "skreuse/multiparty/_hmr.py",
    "skreuse/inference/_averaging.py",
    "skreuse/inference/_fusion.py",
    "skreuse/inference/_mlp_params.py",
    "skreuse/inference/_ncm.py",
    "skreuse/interpretable/_twice_learning.py",
    "skreuse/selection/_logme_selector.py",
]

# mutmut's exit codes, grouped as the report counts them.
KILLED = {1, 3, 24, -24, 152, 255, 36, -11, -9, 37}  # failed, timed out, crashed, type check
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}

# Equivalent mutants: (function, mutated line) -> why no test can tell it from the original.
# The function is "Class.method" or "function"; the line is the mutant's line, stripped.
EQUIVALENT: dict[tuple[str, str], str] = {}

_STRING = re.compile(r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""")
_DISPLAY_ARG = re.compile(r"\b(?:verbose|desc|purpose)=[^,()]*(?:\([^()]*\))?[^,()]*,?\s*")


def cosmetic(old, new):
    """Why a mutant changes only what is shown to the user, or None.

    Two kinds are recognized: a change confined to the ``verbose=``, ``desc=`` or
    ``purpose=`` arguments of a call (progress bars, the install hint of an optional
    dependency), and a change confined to the text of a message (a string literal with a
    space in it: error, warning and progress texts; identifiers such as ``"stable"`` or
    ``"pos"`` are not messages and stay counted).
    """

    def squash(line):
        return re.sub(r",\s*\)", ")", re.sub(r"\s+", " ", line)).strip()

    if squash(_DISPLAY_ARG.sub("", old)) == squash(_DISPLAY_ARG.sub("", new)):
        return "display only (progress-bar or install-hint argument)"
    if _STRING.sub('""', old) == _STRING.sub('""', new):
        changed = [m.group() for m in _STRING.finditer(old) if m.group() not in new]
        if changed and all(" " in text for text in changed):
            return "message text only"
    return None


def _function(mutant):
    """``skreuse.m.xǁClassǁmethod__mutmut_3`` -> ``Class.method``."""
    local = mutant.rpartition(".")[2]
    local = re.sub(r"__mutmut_\d+$", "", local)
    if local.startswith("xǁ"):
        cls, _, method = local[2:].partition("ǁ")
        return f"{cls}.{method}"
    return local[2:] if local.startswith("x_") else local


def _changed_lines(mutant, path):
    """The original and the mutated line (first differing pair) of a mutant."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        diff = get_diff_for_mutant(mutant, path=path)
    except Exception as exc:  # a report without diffs is still a report
        return f"(diff unavailable: {type(exc).__name__})", ""
    lines = diff.splitlines()[2:]
    old = [ln[1:].strip() for ln in lines if ln.startswith("-")]
    new = [ln[1:].strip() for ln in lines if ln.startswith("+")]
    return " / ".join(old) or "(nothing)", " / ".join(new) or "(removed)"


def collect(root):
    """Per-module counts and survivors from ``mutants/**/*.py.meta``."""
    modules = []
    for path in CORE:
        meta = root / "mutants" / (path + ".meta")
        if not meta.exists():
            modules.append({"path": path, "total": 0, "counts": Counter(), "survivors": []})
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter()
        survivors = []
        for mutant, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
            if code is None:
                counts["not checked"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                old, new = _changed_lines(mutant, path)
                reason = EQUIVALENT.get((_function(mutant), new))
                kind = "equivalent" if reason else None
                if reason is None:
                    reason = cosmetic(old, new)
                    kind = "cosmetic" if reason else "survived"
                counts[kind] += 1
                survivors.append((mutant, _function(mutant), old, new, kind, reason))
            elif code in NO_TESTS:
                counts["no tests"] += 1
            elif code in SKIPPED:
                counts["skipped"] += 1
            else:
                counts["suspicious"] += 1
        modules.append(
            {"path": path, "total": len(codes), "counts": counts, "survivors": survivors}
        )
    return modules


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _score(c, *, numerical=False):
    """Killed share of the non-equivalent mutants (``numerical``: cosmetic ones left out)."""
    live = c["killed"] + c["survived"] + c["no tests"] + c["suspicious"]
    if not numerical:
        live += c["cosmetic"]
    return None if live == 0 else 100.0 * c["killed"] / live


def render(modules, header=""):
    out = ["# Mutation testing of the numerical core", ""]
    if header:
        out += [header.strip(), ""]
    out += [
        "*score* = killed / (checked - equivalent), a mutant without a covering test counting",
        "as a survivor; *numerical* leaves out the cosmetic survivors too (they change only a",
        "message or a progress display). Goal: at least 90 % in every module.",
        "",
        "| module | mutants | checked | killed | survived | cosmetic | equivalent | no tests "
        "| score | numerical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in modules:
        c = m["counts"]
        checked = m["total"] - c["not checked"]
        if checked == 0:
            scores = "not run | not run"
        else:
            scores = f"{_score(c):.1f} % | {_score(c, numerical=True):.1f} %"
        out.append(
            f"| `{m['path']}` | {m['total']} | {checked} | {c['killed']} | {c['survived']} | "
            f"{c['cosmetic']} | {c['equivalent']} | {c['no tests']} | {scores} |"
        )
    for m in modules:
        if not m["survivors"]:
            continue
        out += ["", f"## `{m['path']}`: survivors", ""]
        for mutant, function, old, new, kind, reason in m["survivors"]:
            number = mutant.rpartition("__mutmut_")[2]
            mark = {"equivalent": f"**equivalent**: {reason}", "cosmetic": f"cosmetic: {reason}"}
            out.append(
                f"- `{function}` #{number}: `{old}` → `{new}` — {mark.get(kind, 'survived')}"
            )
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/mutation.md")
    parser.add_argument("--header", default="", help="text put under the title")
    args = parser.parse_args()
    root = Path.cwd()
    modules = collect(root)
    Path(args.output).write_text(render(modules, args.header), encoding="utf-8")
    for m in modules:
        score = _score(m["counts"])
        print(f"{m['path']:45s} {'not run' if score is None else f'{score:5.1f} %'}")


if __name__ == "__main__":
    main()
