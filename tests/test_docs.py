"""Cheap checks of the documentation sources (the full build is ``make docs``).

A page missing from a toctree, a ``:doc:`` or ``:ref:`` target that does not exist, or a
gallery folder without its README fails ``sphinx -W``; these tests say which, in seconds.
"""

import re
from pathlib import Path

import pytest

from skreuse.utils import all_displays, all_estimators, all_functions

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
_GENERATED = ("_build", "generated", "auto_examples", "_templates")


def _doc_sources():
    return [p for p in DOCS.rglob("*.rst") if not any(part in _GENERATED for part in p.parts)]


def _toctree_entries(text):
    entries, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith(".. toctree::"):
            inside = True
            continue
        if inside:
            stripped = line.strip()
            if stripped and not line.startswith(" "):
                inside = False
            elif stripped and not stripped.startswith(":"):
                entries.append(stripped)
    return entries


def _doc_targets(text):
    for m in re.finditer(r":doc:`([^`]+)`", text):
        inner = m.group(1)
        yield inner.split("<", 1)[1].rstrip(">") if "<" in inner else inner


def test_api_reference_lists_every_public_object():
    listed = set(re.findall(r"^   (\w+)$", (DOCS / "api.rst").read_text(), re.M))
    public = {n for n, _ in all_estimators() + all_displays() + all_functions()}
    missing = sorted(public - listed)
    assert not missing, f"docs/api.rst does not list: {missing}"


def test_no_docstring_holds_a_control_character():
    # A backslash in a docstring that is not raw is an escape: "\\approx" in LaTeX became
    # a BEL character and "pprox" (LogMESelector's Notes, stop 38), which renders without
    # an error. Every public object's docstring and its members'.
    import inspect

    bad = []
    for name, obj in all_estimators() + all_displays() + all_functions():
        members = [m for _, m in inspect.getmembers(obj)] if inspect.isclass(obj) else []
        for item in [obj, *members]:
            doc = getattr(item, "__doc__", None)
            if isinstance(doc, str) and re.search(r"[\x00-\x08\x0b-\x1f\x7f]", doc):
                bad.append(f"{name}.{getattr(item, '__name__', '?')}")
    assert not bad, f"control characters in the docstrings of {sorted(set(bad))}"


@pytest.mark.parametrize("source", _doc_sources(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_referenced_page_exists(source):
    text = source.read_text()
    missing = []
    for target in _toctree_entries(text) + list(_doc_targets(text)):
        if target.startswith("auto_examples/") or "/auto_examples/" in target:
            continue  # written by sphinx-gallery during the build
        base = DOCS if target.startswith("/") else source.parent
        if not (base / f"{target.lstrip('/')}.rst").resolve().exists():
            missing.append(target)
    assert not missing, f"{source.relative_to(ROOT)} refers to missing pages: {missing}"


def test_every_ref_label_is_defined():
    defined = set()
    for source in _doc_sources():
        defined |= set(re.findall(r"^\.\. _([\w-]+):\s*$", source.read_text(), re.M))
    # sphinx-gallery labels every example page after its path.
    defined |= {
        "sphx_glr_auto_examples_" + str(p.relative_to(EXAMPLES)).replace("/", "_")
        for p in EXAMPLES.rglob("*.py")
    }
    used = {}
    for path in list((ROOT / "skreuse").rglob("*.py")) + _doc_sources():
        for m in re.finditer(r":ref:`([^`]+)`", path.read_text()):
            inner = m.group(1)
            label = inner.split("<", 1)[1].rstrip(">") if "<" in inner else inner
            used.setdefault(label, []).append(str(path.relative_to(ROOT)))
    undefined = {label: where for label, where in used.items() if label not in defined}
    assert not undefined, f"labels used but defined by no page of docs/: {undefined}"


def test_every_gallery_folder_has_a_readme():
    assert (EXAMPLES / "README.txt").exists()
    for folder in EXAMPLES.iterdir():
        if folder.is_dir() and not folder.name.startswith((".", "_")):
            assert (folder / "README.txt").exists(), f"{folder.name}/README.txt is missing"
            assert list(folder.glob("plot_*.py")), f"{folder.name} has no plot_*.py example"


# -- the built site (``make test`` builds the docs before running pytest) ---------------------

BUILT = DOCS / "_build" / "html"


@pytest.mark.skipif(not (BUILT / "index.html").exists(), reason="the docs were not built")
def test_built_api_pages_list_methods_and_examples():
    page = (BUILT / "generated" / "skreuse.LogMESelector.html").read_text()
    for method in ("fit", "transform", "predict", "get_feature_names_out", "set_output"):
        assert f'id="skreuse.LogMESelector.{method}"' in page, f"{method} is not listed"
    assert 'id="examples-using-logmeselector"' in page
    section = page.split('id="examples-using-logmeselector"')[1].split("</section>")[0]
    assert "sphx-glr-thumbcontainer" in section
    assert 'href="../auto_examples/selection/plot_logme_ranking.html"' in section


@pytest.mark.skipif(not (BUILT / "index.html").exists(), reason="the docs were not built")
def test_built_math_uses_the_local_mathjax():
    page = (BUILT / "generated" / "skreuse.transferability.logme_score.html").read_text()
    assert 'class="math' in page
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page, re.I)
    assert [src.split("?")[0] for src in scripts] == ["../_static/mathjax/tex-chtml.js"]
    assert (BUILT / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert (BUILT / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
