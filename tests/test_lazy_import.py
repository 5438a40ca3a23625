"""``import skreuse`` loads skreuse.datasets only when it is first used."""

import subprocess
import sys


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_skreuse_does_not_import_datasets():
    assert _run("import sys, skreuse; print('skreuse.datasets' in sys.modules)") == "False"


def test_datasets_attribute_loads_on_first_use():
    code = (
        "import sys, skreuse; d = skreuse.datasets; "
        "print(d is sys.modules['skreuse.datasets'], hasattr(d, 'make_hmr_toy'), "
        "'datasets' in skreuse.__all__)"
    )
    assert _run(code) == "True True True"
    code = "import skreuse\ntry:\n    skreuse.nope\nexcept AttributeError as e:\n    print(e)"
    assert _run(code) == "module 'skreuse' has no attribute 'nope'"
    assert _run("from skreuse import datasets; print(datasets.__name__)") == "skreuse.datasets"
