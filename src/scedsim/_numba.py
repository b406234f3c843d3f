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
import types

__all__ = ["JIT_ENABLED", "CACHE_ENABLED", "kernel"]

JIT_ENABLED = os.environ.get("SCEDSIM_DISABLE_JIT", "0").strip() not in ("1", "true", "yes")
CACHE_ENABLED = os.environ.get("SCEDSIM_NUMBA_CACHE", "1").strip() not in ("0", "false", "no")

if JIT_ENABLED:
    import numba as _numba
else:  # pragma: no cover - exercised only with the switch set
    _numba = None


def kernel(fn):
    """Compile ``fn`` with numba (or return it unchanged when the JIT is disabled).

    Parameters
    ----------
    fn : function
        A plain-Python function that numba can compile in nopython mode.

    Returns
    -------
    kernel : numba dispatcher or function
        The compiled kernel; ``fn`` itself when the JIT is disabled.  Either way
        ``kernel.twin`` is the plain-Python twin, and ``kernel.py_func`` is ``fn``.

    Notes
    -----
    ``py_func`` is not a pure twin: its globals still name the other *compiled*
    kernels it calls (a shared sort, the score-CI root finder), so it runs
    compiled code underneath.  ``twin`` is ``fn``'s code rebuilt over
    :class:`_TwinGlobals`, where every kernel made here resolves to its own twin,
    so the twin is plain Python all the way down.  Like numba, which freezes
    globals at compile time, a twin reads its module's globals once, on its
    first call.
    """
    if _numba is None:
        fn.py_func = fn
        fn.twin = fn  # its globals name only plain functions: already pure
        _KERNELS.append(fn)
        _TWINS[id(fn)] = fn
        return fn
    compiled = _numba.njit(cache=CACHE_ENABLED, nogil=True, fastmath=False, error_model="numpy")(fn)
    twin = types.FunctionType(fn.__code__, _TwinGlobals(fn.__globals__), fn.__name__,
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__
    twin.__doc__ = fn.__doc__
    twin.__module__ = fn.__module__
    twin.__kwdefaults__ = fn.__kwdefaults__
    compiled.twin = twin
    _KERNELS.append(compiled)  # keeps each id() below unique
    _TWINS[id(compiled)] = twin
    return compiled


# Every kernel made by `kernel`, and id(kernel) -> its twin (the list keeps
# each kernel alive, so its id cannot be reused by another object).
_KERNELS: list = []
_TWINS: dict[int, object] = {}


class _TwinGlobals(dict):
    """A twin's globals: a copy of its module's namespace (and builtins) in which
    every kernel is replaced by its twin.  Empty until the first lookup, since
    ``kernel`` runs while the module is still being defined."""

    __slots__ = ("_module_globals",)

    def __init__(self, module_globals):
        super().__init__()
        self._module_globals = module_globals

    def __missing__(self, name):
        if not self:
            builtins = self._module_globals.get("__builtins__", __builtins__)
            self.update(builtins if isinstance(builtins, dict) else vars(builtins))
            for key, value in self._module_globals.items():
                self[key] = _TWINS.get(id(value), value)
            if name in self:
                return self[name]
        raise KeyError(name)


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
