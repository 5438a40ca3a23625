"""The README's demo command: ``python -m skreuse demo`` runs end to end."""

import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import kendalltau

from skreuse import _demo
from skreuse.__main__ import main


def _table_rows(text, header_start):
    """Rows (lists of cells) of the plain-text table whose header starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    n_columns = len(re.split(r"\s{2,}", lines[start].strip()))
    rows = []
    for line in lines[start + 2 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != n_columns:
            break
        rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    pytest.importorskip("matplotlib")
    png = tmp_path_factory.mktemp("demo") / "figure.png"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["demo", "--quick", "--output", str(png)])
    return status, buffer.getvalue(), png


def test_demo_prints_the_ranking_with_kendall_tau(quick_demo):
    status, out, _ = quick_demo
    assert status == 0
    rows = _table_rows(out, "model (LogME order)")
    assert len(rows) == 11  # the digits zoo
    logme = np.array([float(r[2]) for r in rows])
    probe = np.array([float(r[5]) for r in rows])
    # The table is sorted by LogME, best first, and the models are of varied quality.
    assert np.all(np.diff(logme) <= 0)
    assert probe.max() - probe.min() > 0.2
    # The printed tau is Kendall's tau of the printed columns.
    printed = float(re.search(r"LogME ([+-]\d\.\d\d) \(11 models\)", out).group(1))
    assert printed == pytest.approx(kendalltau(logme, probe)[0], abs=0.011)
    assert printed > 0.3
    # LEEP and NCE apply to the classifiers only; feature extractors show '-'.
    extractors = [r for r in rows if r[1] == "feature extractor"]
    assert extractors
    assert all(r[3] == "-" and r[4] == "-" for r in extractors)
    assert re.search(r"LEEP [+-]\d\.\d\d \(8 models\)", out)


def test_demo_reuse_beats_training_from_scratch_with_one_shot(quick_demo):
    _, out, _ = quick_demo
    rows = {r[0]: [float(v) for v in r[1:]] for r in _table_rows(out, "method")}
    assert len(rows) == 4
    scratch = rows.pop("scratch (logistic regression)")
    assert len(scratch) == 2  # --quick: k = 1 and 5
    htl = next(v for k, v in rows.items() if k.startswith("HypothesisTransfer"))
    ncm = next(v for k, v in rows.items() if k.startswith("NCM"))
    assert htl[0] > scratch[0] + 0.15
    assert ncm[0] > scratch[0] + 0.15


def test_demo_saves_the_figure(quick_demo):
    from matplotlib.image import imread

    _, out, png = quick_demo
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    height, width = image.shape[:2]
    assert width > height > 300
    # Not a blank canvas: the bars and curves put many distinct colours on it.
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 50
    assert str(png) in out


def test_demo_registry_runs_a_new_demo(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_demo(*, output, quick, random_state):
        calls.append((output, quick, random_state))
        return "table"

    monkeypatch.setitem(_demo.DEMOS, "fake", (fake_demo, "a test demo", "fake.png"))
    assert main(["demo", "fake", "--seed", "3"]) == 0
    assert calls == [(_demo.Path("fake.png"), False, 3)]
    main(["demo", "fake", "--quick", "-o", str(tmp_path / "x.png")])
    assert calls[-1] == (tmp_path / "x.png", True, 0)
    with pytest.raises(SystemExit):
        main(["demo", "no-such-demo"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(ValueError, match="Unknown demo 'nope'"):
        _demo._run_demo("nope")


def test_python_m_skreuse_help():
    out = subprocess.run(
        [sys.executable, "-m", "skreuse", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "main" in out.stdout
    assert "--output" in out.stdout


def _by_label(out, header_start):
    return {
        r[0]: [float(v) if v != "-" else np.nan for v in r[1:]]
        for r in _table_rows(out, header_start)
    }


def _check_rkme(out):
    spec = {(r[0], r[1]): (float(r[2]), float(r[3])) for r in _table_rows(out, "user / model")}
    assert len(spec) == 6
    one, mix = "one group (3-5)", "mixture (0-2 + 6-9)"
    # The user's own group is the closest specification and takes most of the weight;
    # the mixture user's data lies between the two groups it came from.
    assert spec[(one, "digits 3-5")][0] < min(
        spec[(one, g)][0] for g in ("digits 0-2", "digits 6-9")
    )
    assert spec[(one, "digits 3-5")][1] > 0.8
    assert spec[(mix, "digits 3-5")][1] < 0.1
    assert spec[(mix, "digits 0-2")][1] + spec[(mix, "digits 6-9")][1] > 0.9
    acc = _by_label(out, "user  ")
    assert min(acc[one]) > 0.9
    best, average, job_selector = acc[mix]
    # One model knows only part of the mixture's classes; routing rows repairs that.
    assert best < 0.75
    assert job_selector > max(best, average) + 0.15


def _check_hmr(out):
    rows = _by_label(out, "stage")
    before, after = rows["before calibration"], rows["after calibration"]
    assert before[0] < 0.6
    assert after[0] > 0.95
    assert after[1] > before[1]
    assert 1 <= after[2] <= 30
    assert before[2] == 0


def _check_fusion(out):
    rows = {k: v[0] for k, v in _by_label(out, "method").items()}
    assert rows["individual models"] > 0.85
    assert rows["naive average"] < rows["individual models"] - 0.2
    assert rows["OT fusion (activation)"] > rows["naive average"] + 0.2
    assert rows["permutation"] > rows["naive average"] + 0.2


def _check_reform(out):
    rows = {k: v[0] for k, v in _by_label(out, "method").items()}
    assert set(rows) == {"target-only", "source on shared", "ReFormRectifier"}
    assert rows["ReFormRectifier"] > 0.9
    assert rows["ReFormRectifier"] > max(rows["target-only"], rows["source on shared"])


def _check_tree(out):
    rows = _by_label(out, "model")
    teacher, plain, twice = (
        rows["teacher (5 bagged MLPs)"],
        rows["plain tree"],
        rows["twice-learned tree"],
    )
    assert teacher[2] == 1.0
    assert np.isnan(teacher[3])
    assert 0.85 < plain[0] < 1
    assert 0.85 < twice[0] < 1
    assert teacher[0] > plain[0]
    # Learning the teacher's labels brings the tree closer to the teacher.
    assert twice[2] > plain[2]
    assert plain[3] >= 2
    assert twice[3] >= 2


def _check_market(out):
    assert int(re.search(r"Market: (\d+) models added", out).group(1)) >= 50
    rows = _by_label(out, "user    ")
    assert set(rows) == {"digits 3-5", "digits 0-2 + 6-9", "breast cancer, all 30 columns"}
    for reuse, oracle, random_mean, _ in rows.values():
        assert reuse > random_mean + 0.02
        assert reuse > oracle - 0.05
    # Data mixing two models' tasks: the mixture beats any single model.
    assert rows["digits 0-2 + 6-9"][0] > rows["digits 0-2 + 6-9"][1] + 0.1
    assert "needs columns absent from X" in out


SUB_DEMO_CHECKS = {
    "rkme": _check_rkme,
    "hmr": _check_hmr,
    "fusion": _check_fusion,
    "reform": _check_reform,
    "tree": _check_tree,
    "market": _check_market,
}


def test_every_sub_demo_is_tested():
    assert set(_demo.DEMOS) == {_demo.DEFAULT_DEMO, *SUB_DEMO_CHECKS}


@pytest.mark.parametrize("name", sorted(SUB_DEMO_CHECKS))
def test_sub_demo(name, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / f"{name}.png"
    table = _demo._run_demo(name, output=png, quick=True, random_state=0)
    out = capsys.readouterr().out
    assert table in out
    SUB_DEMO_CHECKS[name](out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert str(png) in out
