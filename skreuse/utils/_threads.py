"""BLAS threads for the many small products of iterative solvers."""

import contextlib
import functools

# Multiply-adds of one matrix product below which one BLAS thread is used. Measured on
# 2 cores (``fit_biased_logistic``, 64 or 512 features, 10 or 20 classes): one thread was
# 9.5x faster at 1,000 rows x 64 features x 10 classes, 2x at 20,000 x 64 x 10, 1.4x at
# 20,000 x 512 x 20, and 1.1x slower only at 100,000 x 512 x 20 (1e9).
_SMALL_PRODUCT = 10**8


@functools.cache
def _controller():
    # Built once (scanning the loaded libraries takes about a millisecond; a solver may
    # run hundreds of times in one fit).
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread_if_small(n_multiply_adds):
    """Context in which BLAS runs on one thread when a product of ``n_multiply_adds``
    is small, else with the threads it has.

    An iterative solver calls BLAS thousands of times on small matrices; there threads
    cost more than they bring, and with numpy and scipy each loading its own OpenBLAS
    (as their wheels do), the two thread pools' waiting took turns: a hypothesis-transfer
    fit on 898 rows of digits took 80 s on 2 cores instead of 6 s.
    """
    if n_multiply_adds > _SMALL_PRODUCT:
        return contextlib.nullcontext()
    return _controller().limit(limits=1, user_api="blas")
