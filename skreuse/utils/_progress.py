"""Progress bars shown when ``verbose > 0``."""

from tqdm.auto import tqdm


class _NoBar:
    """Stands in for a tqdm bar when ``verbose`` is 0."""

    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(*, verbose=0, desc=None, total=None, initial=0, unit="it"):
    """A bar advanced by hand (``update(n)``, ``close()``) when the work is not a loop count.

    For example HMR's budget counts communicated rows, not calibration rounds.
    """
    if not verbose:
        return _NoBar()
    return tqdm(desc=desc, total=total, initial=initial, unit=unit, leave=verbose > 1)


def progress(iterable, *, verbose=0, desc=None, total=None):
    """Wrap ``iterable`` in a tqdm bar when ``verbose > 0``, else return it unchanged."""
    if not verbose:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=verbose > 1)
