"""Read-only containers: a frozen Study's fields and a metric spec's options cannot change."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FrozenDict", "freeze"]


class FrozenDict(dict):
    """A dict that cannot change, so that derived state is never stale."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("this mapping is frozen (a Study and its metrics cannot change); "
                        "make a changed copy with dataclasses.replace(study, ...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


def freeze(v):
    """Dicts become FrozenDicts, lists and arrays tuples, DataFrames copies (recursively)."""
    if isinstance(v, dict):
        return FrozenDict({k: freeze(x) for k, x in v.items()})
    if isinstance(v, (list, tuple)):
        return tuple(freeze(x) for x in v)
    if isinstance(v, np.ndarray):
        return tuple(freeze(x) for x in v.tolist())
    if isinstance(v, pd.DataFrame):
        return v.copy()
    return v
