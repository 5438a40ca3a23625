"""Sphinx configuration of the skreuse documentation.

Build with ``make docs`` (``sphinx -b html -W --keep-going docs docs/_build/html``): every
warning fails the build, and sphinx-gallery runs every ``examples/<family>/plot_*.py``.
The build needs no network.
"""

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import skreuse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Examples draw with matplotlib; no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skreuse"
author = "skreuse developers"
copyright = "2026, skreuse developers"
version = release = skreuse.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "**/*.py", "**/*.zip", "**/*.md5"]
root_doc = "index"
nitpicky = False
default_role = "literal"

# -- autodoc / autosummary / numpydoc ---------------------------------------------------------
autosummary_generate = True
# The class template (``_templates/autosummary/class.rst``) lists members and inherited
# members itself; no default here would override it.
autodoc_default_options = {}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Cross-references from numpydoc's "Parameters" types to objects outside skreuse would need
# intersphinx (network); they stay plain text.
numpydoc_xref_param_type = False

# Docstrings name fitted attributes in plain text ("of shape (n_features_in_,)"); to
# reStructuredText a word ending in "_" is a hyperlink reference, which fails the build.
# Outside literals, such a trailing underscore is escaped once numpydoc has run.
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`\\])([A-Za-z]\w*?)_(?=[\s,.;:)\]]|$)")


def _escape_attribute_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        parts = _LITERAL.split(line)
        parts[::2] = [_TRAILING_UNDERSCORE.sub(r"\1\\_", part) for part in parts[::2]]
        lines[i] = "".join(parts)


# Methods inherited from scikit-learn (``score``, ``set_output``) point to labels of
# scikit-learn's own site; without intersphinx (network) they stay plain text.
_FOREIGN_REF = re.compile(r":ref:`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _unlink_foreign_refs(app, what, name, obj, options, lines):
    if getattr(obj, "__module__", "skreuse").startswith("skreuse"):
        return
    lines[:] = [_FOREIGN_REF.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_foreign_refs)
    app.connect("autodoc-process-docstring", _escape_attribute_names, priority=600)
    app.connect("build-finished", _copy_mathjax)


# -- math without network ----------------------------------------------------------------------
# MathJax is served from the site itself: the ``django-static-mathjax`` wheel (docs extra, no
# Django needed) ships MathJax 3's browser build, which is copied into ``_static/mathjax``.
# No LaTeX is needed (imgmath would need latex and dvipng on every machine building docs).
_MATHJAX_SPEC = importlib.util.find_spec("mathjax")
if _MATHJAX_SPEC is None or _MATHJAX_SPEC.submodule_search_locations is None:
    raise RuntimeError(
        "The docs render math with a local MathJax: pip install django-static-mathjax "
        '(it is in the docs extra: pip install -e ".[docs]").'
    )
MATHJAX_DIR = Path(_MATHJAX_SPEC.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX_DIR, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


# -- sphinx-gallery ---------------------------------------------------------------------------
# One gallery section per family folder, in the order of the user guide; a folder not listed
# here still appears ("*"), at the end.
_FAMILIES = [
    "selection",
    "specification",
    "training",
    "heterogeneous",
    "inference",
    "multiparty",
    "interpretable",
]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "subsection_order": [f"../examples/{f}" for f in _FAMILIES] + ["*"],
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    # "Examples using X" on every API page.
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skreuse",),
    "plot_gallery": "True",
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
}

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skreuse {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_show_sourcelink = True
html_sidebars = {"index": [], "getting_started": [], "which_method": []}
