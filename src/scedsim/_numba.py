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
