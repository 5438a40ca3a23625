"""Turn mutmut's results (``mutants/``) into the mutation report ``benchmarks/mutation.md``.

Run from the repository root after ``mutmut run`` (``make mutation`` does both)::

    python benchmarks/mutation_report.py [--output benchmarks/mutation.md]

The notes above the marker line of an existing report are kept; the tables below it are
rewritten.

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

# Survivors examined by hand: (function, mutated line) -> (kind, reason). The function is
# "Class.method" or "function", the line the mutant's line, stripped. Kinds: "equivalent" (no
# test can tell it from the original), "cosmetic" (changes only a message), "survived" (a real
# gap, explained).
_SELECTION = "caught by tests/test_common.py (check_estimator), outside the mutation test selection"
_DEFAULTS = (
    "a default value (fixed by DESIGN.md) that no test pins; the default of `lam` is being "
    "changed in another branch"
)
_SAME_SOLVE = "the same solution of the same nonsingular system (another solver or solver flag)"
_CPU = "the default device is the CPU, the only one on a machine without a GPU"
_SORT = (
    "fewer than 17 scores: numpy's introsort is then an insertion sort, stable, and reads "
    "`kind` case-insensitively"
)
MARKED: dict[tuple[str, str], tuple[str, str]] = {
    # inference/_averaging.py
    ("WeightAveraging._greedy", "kind = mlps[1].kind"): (
        "equivalent",
        "every model has the same kind (checked in fit)",
    ),
    ("WeightAveraging._greedy", "order = np.argsort(-self.scores_, kind=None)"): (
        "equivalent",
        _SORT,
    ),
    ("WeightAveraging._greedy", "order = np.argsort(-self.scores_, )"): ("equivalent", _SORT),
    ("WeightAveraging._greedy", 'order = np.argsort(-self.scores_, kind="STABLE")'): (
        "equivalent",
        _SORT,
    ),
    (
        "WeightAveraging._greedy",
        "model = _build_model(mlps[1], *_average([mlps[i] for i in candidate], coef))",
    ): ("equivalent", "the template only gives the architecture, the same for every model"),
    ("WeightAveraging._regmean", "lhs = total + lam * np.eye(total.shape[1])"): (
        "equivalent",
        "a Gram matrix is square",
    ),
    ("WeightAveraging._regmean", "* (G + lam * np.eye(G.shape[1]))"): (
        "equivalent",
        "a Gram matrix is square",
    ),
    (
        "WeightAveraging._regmean",
        'merged = solve(lhs, rhs, assume_a="pos") if (lam > 0) and False '
        "else np.linalg.lstsq(lhs, rhs)[0]",
    ): ("equivalent", _SAME_SOLVE),
    (
        "WeightAveraging._regmean",
        "merged = solve(lhs, rhs, assume_a=None) if lam > 0 else np.linalg.lstsq(lhs, rhs)[0]",
    ): ("equivalent", _SAME_SOLVE),
    (
        "WeightAveraging._regmean",
        "merged = solve(lhs, rhs, ) if lam > 0 else np.linalg.lstsq(lhs, rhs)[0]",
    ): ("equivalent", _SAME_SOLVE),
    (
        "WeightAveraging._regmean",
        'merged = solve(lhs, rhs, assume_a="pos") if lam > 1 else np.linalg.lstsq(lhs, rhs)[0]',
    ): ("equivalent", _SAME_SOLVE),
    # inference/_fusion.py
    ("_transport_plan", "return ot.emd(None, b, cost, numItermax=max(100_000, 50 * n * m))"): (
        "equivalent",
        "POT takes a missing marginal as uniform, which `a` is",
    ),
    ("_transport_plan", "return ot.emd(a, None, cost, numItermax=max(100_000, 50 * n * m))"): (
        "equivalent",
        "POT takes a missing marginal as uniform, which `b` is",
    ),
    **{
        ("_transport_plan", f"return ot.emd(a, b, cost, {cap})"): (
            "equivalent",
            "iteration cap of the network simplex, far above what these layer sizes need",
        )
        for cap in (
            "",
            "numItermax=max(100001, 50 * n * m)",
            "numItermax=max(100_000, 50 * n / m)",
            "numItermax=max(100_000, 50 / n * m)",
            "numItermax=max(100_000, 51 * n * m)",
        )
    },
    (
        "_transport_plan",
        'return ot.sinkhorn(a, b, cost, reg, method="SINKHORN_STABILIZED", numItermax=10_000)',
    ): ("equivalent", "POT reads the method name case-insensitively"),
    (
        "_transport_plan",
        'return ot.sinkhorn(a, b, cost, reg, method="sinkhorn_stabilized", numItermax=10001)',
    ): ("equivalent", "one more allowed iteration of a converged solver"),
    ("_transport_plan", "return ot.sinkhorn(a, b, cost, reg, numItermax=10_000)"): (
        "survived",
        "plain Sinkhorn gives the same plan except for a tiny `reg` (overflow), not tested",
    ),
    (
        "_transport_plan",
        'return ot.sinkhorn(a, b, cost, reg, method="sinkhorn_stabilized", )',
    ): ("survived", "POT's default cap (1000) suffices for the `reg` values tested"),
    ("_weight_matching", "changed = None"): (
        "equivalent",
        "None and False are both false (start of a sweep)",
    ),
    ("_weight_matching", "changed = True"): (
        "equivalent",
        "only runs the remaining sweeps at the fixed point, where nothing changes",
    ),
    ("_weight_matching", "if not np.array_equal(None, perms[layer]):"): (
        "equivalent",
        "only runs the remaining sweeps at the fixed point, where nothing changes",
    ),
    ("_weight_matching", "if not np.array_equal(match, None):"): (
        "equivalent",
        "only runs the remaining sweeps at the fixed point, where nothing changes",
    ),
    ("OTFusion.__init__", "max_sweeps=101,"): (
        "equivalent",
        "weight matching converges in a few sweeps",
    ),
    ("OTFusion.__init__", "self.n_jobs = None"): ("survived", _SELECTION),
    # selection/_logme_selector.py
    **{
        ("_BayesianLinearHead.__init__", f'def __init__(self, task="{t}"):'): (
            "equivalent",
            "the private head is always built with an explicit task",
        )
        for t in ("XXautoXX", "AUTO")
    },
    ("_BayesianLinearHead._scores", "return np.asarray(X, dtype=None) @ self.coef_.T"): (
        "equivalent",
        "the product with the float64 coef_ is float64 anyway",
    ),
    ("_BayesianLinearHead._scores", "return np.asarray(X, ) @ self.coef_.T"): (
        "equivalent",
        "the product with the float64 coef_ is float64 anyway",
    ),
    ("_BayesianLinearHead.fit", "score, result, task = _logme_fit(X, y, )"): (
        "equivalent",
        "the selector passes the task it inferred by the same rule as task='auto'",
    ),
    **{
        ("_BayesianLinearHead.fit", f"opt = minimize_scalar(nll, bounds={b}, {m})"): (
            "equivalent",
            "scipy uses 'bounded' when bounds are given and reads it case-insensitively; the "
            "temperature is far from the bound 1e4",
        )
        for b, m in (
            ("(np.log(1e-4), np.log(1e4))", "method=None"),
            ("(np.log(1e-4), np.log(1e4))", ""),
            ("(np.log(1e-4), np.log(10001.0))", 'method="bounded"'),
            ("(np.log(1e-4), np.log(1e4))", 'method="BOUNDED"'),
        )
    },
    ("LogMESelector.__init__", "self.n_jobs = None"): ("survived", _SELECTION),
    # inference/_ncm.py: centre and centroids are float64 numpy arrays
    **{
        ("_as_backend", f"return torch.as_tensor(a, {args})"): (
            "equivalent",
            _CPU if "device=device" not in args else "torch keeps the float64 of the numpy array",
        )
        for args in (
            "dtype=None, device=device",
            "device=device",
            "dtype=torch.float64, device=None",
            "dtype=torch.float64, ",
        )
    },
    **{
        ("NCMClassifier._similarity", line): ("equivalent", reason)
        for line, reason in (
            ("check_is_fitted(self, None)", "centroids_ is set with every other fitted attribute"),
            ("check_is_fitted(self, )", "centroids_ is set with every other fitted attribute"),
            ("device = None", _CPU),
            ("device = self._device(None)", _CPU),
            (
                "self, X, reset=None, dtype=[np.float64, np.float32], "
                "allow_nd=self.backbone is not None",
                "None is false, like False",
            ),
            (
                "self, X, reset=False, dtype=None, allow_nd=self.backbone is not None",
                "integer input is promoted by the product with the float64 centroids",
            ),
            (
                "self, X, reset=False, allow_nd=self.backbone is not None",
                "integer input is promoted by the product with the float64 centroids",
            ),
        )
    },
    # training/_hypothesis_transfer.py
    ("_BaseHypothesisTransfer._linear_scores", "X = validate_data(self, X, reset=None)"): (
        "equivalent",
        "None is false, like False",
    ),
    ("_BaseHypothesisTransfer._linear_scores", "X = validate_data(self, X, reset=True)"): (
        "survived",
        _SELECTION,
    ),
    **{
        (f"{cls}.__init__", line): ("survived", _DEFAULTS)
        for cls in ("HypothesisTransferClassifier", "HypothesisTransferRegressor")
        for line in ("lam=2.0,", "alpha=1.0,", "source_reg=2.0,", "max_iter=1001,")
    },
    **{
        (f"{cls}.__sklearn_tags__", f"tags.{tag} = {value}"): ("survived", _SELECTION)
        for cls, tag in (
            ("_BaseHypothesisTransfer", "input_tags.sparse"),
            ("HypothesisTransferRegressor", "target_tags.multi_output"),
            ("LogMESelector", "target_tags.required"),
        )
        for value in ("None", "True", "False")
    },
    **{
        ("_num_rows", f"return X.shape[0] if {cond} else len(X)"): (
            "equivalent",
            "len(X) is X.shape[0] for arrays and data frames",
        )
        for cond in (
            '(hasattr(X, "shape")) and False',
            'hasattr(None, "shape")',
            'hasattr(X, "XXshapeXX")',
            'hasattr(X, "SHAPE")',
        )
    },
    ("_source_name", 'return "source" if (n_sources == 1) or True else f"source[{i}]"'): (
        "cosmetic",
        "the name appears only in error messages",
    ),
    **{
        ("_source_scores", f"S = np.asarray({call}, {arg})"): (
            "equivalent",
            "the scores are floats already (integer labels are promoted by the products)",
        )
        for call in ("getattr(model, method)(X)", "model.decision_function(X)", "model.predict(X)")
        for arg in ("dtype=None", "")
    },
    ("_source_scores", "S = S.reshape(S.shape[0], -2)"): (
        "equivalent",
        "numpy reads any negative size as the unknown one",
    ),
    ("_BaseHypothesisTransfer._fit", "name = _source_name(None, n_sources)"): (
        "cosmetic",
        "the name appears only in error messages",
    ),
    (
        "_BaseHypothesisTransfer._fit",
        "intercept[:, None], src_classes, classes, None, warn=False",
    ): (
        "cosmetic",
        "the name appears only in error messages",
    ),
    ("_BaseHypothesisTransfer._fit", "intercept[:, None], src_classes, classes, name, warn=None"): (
        "equivalent",
        "None is false, like False",
    ),
    ("_BaseHypothesisTransfer._fit", "def fit_one(share, strength, lam_intercept=1.0):"): (
        "equivalent",
        "every call passes lam_intercept",
    ),
    ("_BaseHypothesisTransfer._fit_candidate", "lam_intercept=1.0,"): (
        "equivalent",
        "every call passes lam_intercept",
    ),
    **{
        (function, line): ("equivalent", "the solver converts X and the weights to float itself")
        for function, line in (
            (
                "HypothesisTransferClassifier._validate_fit_data",
                "X, y = validate_data(self, X, y, dtype=None)",
            ),
            (
                "HypothesisTransferClassifier._validate_fit_data",
                "X, y = validate_data(self, X, y, )",
            ),
            (
                "_BaseHypothesisTransfer._fixed_weights",
                "weights = np.asarray(self.source_weights, dtype=None)",
            ),
            (
                "_BaseHypothesisTransfer._fixed_weights",
                "weights = np.asarray(self.source_weights, )",
            ),
        )
    },
    **{
        (
            "_align_classes",
            f"dropped = sorted(set(position) - set(np.asarray(classes).tolist()), {k})",
        ): (
            "cosmetic",
            "only the order of the classes listed in the warning",
        )
        for k in ("key=None", "")
    },
    **{
        ("_align_classes", line): ("equivalent", "warnings.warn's default category is UserWarning")
        for line in ("None,", "(removed)")
    },
    **{
        ("_align_classes", line): ("cosmetic", "only which caller's line the warning names")
        for line in (")", "stacklevel=5,")
    },
    **{
        ("_linear_weights", line): (
            "equivalent",
            "integer weights are promoted to float by the products and sums that use them",
        )
        for line in (
            "coef = np.asarray(coef, dtype=None)",
            "coef = np.asarray(coef, )",
            "intercept = np.broadcast_to(np.asarray(intercept, dtype=None), "
            "(coef.shape[0],)).copy()",
            "intercept = np.broadcast_to(np.asarray(intercept, ), (coef.shape[0],)).copy()",
        )
    },
    **{
        ("_linear_weights", f'if {cond} and not hasattr(source, "fit"):'): (
            "cosmetic",
            "a source without fit is rejected with a TypeError either way (by "
            "check_model_fitted when it has coef_); only the message differs",
        )
        for cond in (
            'not hasattr(None, "coef_")',
            'not hasattr(source, "XXcoef_XX")',
            'not hasattr(source, "COEF_")',
            'hasattr(source, "coef_")',
        )
    },
    **{
        ("HypothesisTransferRegressor._validate_fit_data", f"return validate_data({args})"): (
            "equivalent",
            "fit_biased_ridge converts X and y to float itself (and raises ValueError on "
            "non-numeric y there)",
        )
        for args in (
            "self, X, y, dtype=None, multi_output=True, y_numeric=True",
            "self, X, y, dtype=np.float64, multi_output=True, y_numeric=None",
            "self, X, y, multi_output=True, y_numeric=True",
            "self, X, y, dtype=np.float64, multi_output=True, ",
            "self, X, y, dtype=np.float64, multi_output=True, y_numeric=False",
        )
    },
    **{
        ("HypothesisTransferRegressor._criterion", line): (
            "equivalent",
            "unreachable: sample weights summing to zero are rejected before any fit",
        )
        for line in ("if total < 0:", "return 1.0")
    },
    ("HypothesisTransferRegressor._criterion", "if total <= 1:"): (
        "survived",
        "differs only for sample weights summing to at most 1, where GCV's count of rows "
        "(the total weight) is below the intercept's degree of freedom and every candidate "
        "scores -inf anyway",
    ),
    **{
        ("HypothesisTransferRegressor._criterion", line): ("equivalent", reason)
        for line, reason in (
            (
                'penalty = np.broadcast_to(np.asarray(fit["lam"], dtype=None) + fit["alpha"], '
                "(X.shape[1],))",
                "lam is a float or a float array already",
            ),
            (
                'penalty = np.broadcast_to(np.asarray(fit["lam"], ) + fit["alpha"], (X.shape[1],))',
                "lam is a float or a float array already",
            ),
            (
                "dof += np.trace(np.linalg.lstsq(gram + np.diag(penalty), gram, )[0])",
                "numpy 2's default rcond is the one rcond=None selects",
            ),
            (
                "if dof > total - 1e-9:",
                "differs only when the trace equals total - 1e-9 to the last bit",
            ),
        )
    },
    ("_score_candidate", "if uses_torch(None):"): ("equivalent", _CPU),
    ("_score_candidate", "features = to_torch(features, None)"): ("equivalent", _CPU),
}
# Functions that run only at import time (decorator factories): the module is imported before
# mutmut forks the test process, so their mutants are never active and always "survive".
# They are left out of the score; the reason says how they were checked instead.
IMPORT_TIME = {
    "_estimator_has": (
        "runs at import time (available_if); killed when applied by hand: "
        "test_logme_selector.py::test_methods_exist_exactly_when_the_head_has_them"
    ),
}

_STRING = re.compile(r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""")
_DISPLAY_ARG = re.compile(r"\b(?:verbose|desc|purpose)=[^,()]*(?:\([^()]*\))?[^,()]*,?\s*")


# A change confined to one keyword argument that only chooses how work is done: a dropped or
# None batch size or device falls back to its default ("cpu", batches of 256), which on a
# machine without a GPU gives the same numbers; a name only appears in error messages.
_ARGUMENT_RULES = {
    "batch_size": ("equivalent", "batching does not change the features"),
    "device": ("equivalent", None),  # _CPU, set below
    "name": ("cosmetic", "the name appears only in error messages"),
}


def argument_only(old, new):
    """``(kind, reason)`` when the mutant changes only one of ``_ARGUMENT_RULES``' arguments."""
    for arg, (kind, reason) in _ARGUMENT_RULES.items():
        pattern = re.compile(rf"\b{arg}=[^,()]*(?:\([^()]*\))?[^,()]*,?\s*")

        def squash(line, pattern=pattern):
            return re.sub(r",\s*\)", ")", re.sub(r"\s+", " ", pattern.sub("", line))).strip()

        if pattern.search(old) and squash(old) == squash(new):
            return kind, reason or _CPU
    return None, None


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
    # a message (f-)string replaced by None, or a message line removed
    messages = [m.group() for m in _STRING.finditer(old) if " " in m.group()]
    if messages:
        bare = old
        for text in messages:
            bare = bare.replace(text, "", 1)
        bare = re.sub(r"\bf(?=\s|$|[),])", "", bare).strip(" /")
        if new in ("(removed)", "None") and not bare.strip("(), "):
            return "message text only"
        if squash(new.replace("None", "")) == squash(bare):
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
                if _function(mutant) in IMPORT_TIME:
                    counts["import time"] += 1
                    survivors.append(
                        (
                            mutant,
                            _function(mutant),
                            *_changed_lines(mutant, path),
                            "import time",
                            IMPORT_TIME[_function(mutant)],
                        )
                    )
                    continue
                kind, reason = MARKED.get((_function(mutant), new.replace(" ,", ",")), (None, None))
                if kind is None:
                    kind, reason = argument_only(old, new)
                if kind is None:
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


MARKER = "<!-- everything below is written by benchmarks/mutation_report.py -->"


def render(modules, notes=""):
    """The report: the hand-written notes kept as they are, then the generated tables."""
    out = [notes.rstrip(), "", MARKER, ""] if notes else ["# Mutation testing", "", MARKER, ""]
    out += [
        "## Scores",
        "",
        "*score* = killed / (checked - equivalent - import time), a mutant without a covering",
        "test counting as a survivor; *numerical* leaves out the cosmetic survivors too (they",
        "change only a message or a progress display). Goal: at least 90 % in every module.",
        "",
        "| module | mutants | checked | killed | survived | cosmetic | equivalent | no tests "
        "| import time | score | numerical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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
            f"{c['cosmetic']} | {c['equivalent']} | {c['no tests']} | {c['import time']} | "
            f"{scores} |"
        )
    for m in modules:
        if not m["survivors"]:
            continue
        out += ["", f"### `{m['path']}`: survivors", ""]
        for mutant, function, old, new, kind, reason in m["survivors"]:
            number = mutant.rpartition("__mutmut_")[2]
            mark = {
                "equivalent": "**equivalent**",
                "cosmetic": "cosmetic",
                "survived": "survived",
                "import time": "not measurable",
            }
            note = f"{mark[kind]}: {reason}" if reason else mark[kind]
            out.append(f"- `{function}` #{number}: `{old}` → `{new}` — {note}")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="benchmarks/mutation.md")
    args = parser.parse_args()
    output = Path(args.output)
    # The notes above the marker are written by hand and kept across runs.
    previous = output.read_text(encoding="utf-8") if output.exists() else ""
    notes = previous.split(MARKER)[0] if MARKER in previous else ""
    modules = collect(Path.cwd())
    output.write_text(render(modules, notes), encoding="utf-8")
    for m in modules:
        score = _score(m["counts"])
        print(f"{m['path']:45s} {'not run' if score is None else f'{score:5.1f} %'}")


if __name__ == "__main__":
    main()
