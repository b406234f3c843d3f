"""The one place that configures numba for scedsim.

Every kernel is decorated with :func:`kernel`, which compiles it with
``numba.njit(cache=True, nogil=True)``.  Two environment variables change that,
read once at import time:

``SCEDSIM_DISABLE_JIT=1``
    Do not compile at all: every kernel runs as its plain-Python twin.  Useful
    for debugging and for coverage tools.  (numba's own ``NUMBA_DISABLE_JIT=1``
    has the same effect.)
``SCEDSIM_NUMBA_CACHE=0``
    Compile, but do not write or read numba's on-disk cache (for read-only
    installs or when the cache directory is shared between machines).
"""
from __future__ import annotations

import os

__all__ = ["JIT_ENABLED", "CACHE_ENABLED", "kernel"]

JIT_ENABLED = os.environ.get("SCEDSIM_DISABLE_JIT", "0").strip() not in ("1", "true", "yes")
CACHE_ENABLED = os.environ.get("SCEDSIM_NUMBA_CACHE", "1").strip() not in ("0", "false", "no")

if JIT_ENABLED:
    import numba as _numba
else:  # pragma: no cover - exercised only with the switch set
    _numba = None


def kernel(fn):
    """Compile ``fn`` with numba (or return it unchanged when the JIT is disabled).

    The plain function stays reachable as ``compiled.py_func``; that is the
    kernel's plain-Python twin.
    """
    if _numba is None:
        fn.py_func = fn
        return fn
    return _numba.njit(cache=CACHE_ENABLED, nogil=True, fastmath=False, error_model="numpy")(fn)


# --------------------------------------------------------------------------- threads
# Kernels release the GIL (nogil=True), so a large batch is split into row
# blocks run on a few threads.  Rows are independent, so the result is the same
# for any number of threads.

import threading
from concurrent.futures import ThreadPoolExecutor

_MIN_ROWS_PER_THREAD = 32_768
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads = 0


def _default_threads() -> int:
    env = os.environ.get("SCEDSIM_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"SCEDSIM_NUM_THREADS must be a positive integer, got {env!r}") from None
    return max(1, min(os.cpu_count() or 1, 8))


def get_num_threads() -> int:
    """Threads a large batch is split over (``SCEDSIM_NUM_THREADS``, default: the CPU count, at most 8)."""
    global _threads
    if not _threads:
        _threads = _default_threads()
    return _threads


def set_num_threads(k: int) -> None:
    """Set the threads used for large batches; 1 runs every kernel on the calling thread.

    Worker processes of a parallel simulation set this to 1, so that they do not
    oversubscribe the cores.
    """
    global _threads, _pool
    k = int(k)
    if k < 1:
        raise ValueError(f"number of threads must be at least 1, got {k}")
    with _lock:
        _threads = k
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def run_rows(kern, a, b, out, *args) -> None:
    """Call ``kern(a, b, *args, out)``, split over row blocks on threads when the batch is large."""
    global _pool
    rows = a.shape[0]
    k = min(get_num_threads(), rows // _MIN_ROWS_PER_THREAD)
    if k <= 1 or not JIT_ENABLED:
        kern(a, b, *args, out)
        return
    with _lock:
        if _pool is None or _pool._max_workers < k:  # noqa: SLF001
            _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="scedsim")
        pool = _pool
    edges = [rows * i // k for i in range(k + 1)]
    futures = [pool.submit(kern, a[lo:hi], b[lo:hi], *args, out[:, lo:hi])
               for lo, hi in zip(edges[:-1], edges[1:])]
    for f in futures:
        f.result()
