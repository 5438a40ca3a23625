import numpy as np
import pytest


def _available_backends():
    backends = ["numpy"]
    try:
        import torch
    except ImportError:
        return backends
    backends.append("torch-cpu")
    if torch.cuda.is_available():
        backends.append("cuda")
    return backends


@pytest.fixture(params=_available_backends())
def backend(request):
    """Every installed numeric backend: numpy, torch on CPU, CUDA when present.

    The value is the ``device`` argument that selects the backend.
    """
    if request.param == "numpy":
        return "cpu"
    import torch

    return torch.device("cpu") if request.param == "torch-cpu" else "cuda"


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def synchronous_dask():
    """dask with its synchronous scheduler: the chunked paths without a cluster."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.array")
    with dask.config.set(scheduler="synchronous"):
        yield dask
