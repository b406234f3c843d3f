"""The thread pool that splits a large batch over row blocks.

Kernels release the GIL (``nogil=True``), so a large batch is split into row
blocks run on a few threads.  Rows are independent, so the result is the same
for any number of threads.  ``SCEDSIM_NUM_THREADS`` sets the default count.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ._numba import JIT_ENABLED

__all__ = ["get_num_threads", "set_num_threads", "run_rows"]

_MIN_ROWS_PER_THREAD = 32_768
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_count = 0


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
    global _count
    if not _count:
        _count = _default_threads()
    return _count


def set_num_threads(k: int) -> None:
    """Set the threads used for large batches; 1 runs every kernel on the calling thread.

    Worker processes of a parallel simulation set this to 1, so that they do not
    oversubscribe the cores.
    """
    global _count, _pool
    k = int(k)
    if k < 1:
        raise ValueError(f"number of threads must be at least 1, got {k}")
    with _lock:
        _count = k
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def run_rows(kern, a, b, out, *args, per_row=(), fields=False):
    """Call ``kern(a, b, *args, out)``, split over row blocks on threads when the batch is large.

    ``per_row`` names the positions in ``args`` of arrays with one entry per row
    (a goal per series): each block gets its own slice of them.  An array with a
    single row is shared by every row and passed whole.

    With ``fields``, the kernel gets ``out`` as a tuple of its rows (the result
    fields), each a contiguous 1-D array also for a block of rows: a block of a
    2-D ``out`` is not contiguous, and its stores defeat a vectorised kernel.

    Returns what the kernel returns; for a batch split into blocks, the largest
    value over the blocks (kernels that return a flag, such as "a value was not
    finite"), or None for kernels that return nothing.
    """
    global _pool
    rows = a.shape[0]
    k = min(get_num_threads(), rows // _MIN_ROWS_PER_THREAD)

    def sink(lo, hi):
        return tuple(out[f, lo:hi] for f in range(out.shape[0])) if fields else out[:, lo:hi]

    if k <= 1 or not JIT_ENABLED:
        return kern(a, b, *args, sink(0, rows) if fields else out)
    with _lock:
        if _pool is None or _pool._max_workers < k:  # noqa: SLF001
            _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="scedsim")
        pool = _pool
    edges = [rows * i // k for i in range(k + 1)]
    def block(lo, hi):
        return [x[lo:hi] if i in per_row and x.shape[0] == rows and rows > 1 else x
                for i, x in enumerate(args)]

    futures = [pool.submit(kern, a[lo:hi], b[lo:hi], *block(lo, hi), sink(lo, hi))
               for lo, hi in zip(edges[:-1], edges[1:])]
    results = [f.result() for f in futures]
    return None if results[0] is None else max(results)
