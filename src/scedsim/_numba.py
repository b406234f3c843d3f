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
