"""Effect sizes for single-case AB comparisons (validation, direction, results).

Every public module of this package declares its metrics in the registry when
it is imported, and every module is imported here: a new metric is one new
module, exported as ``scedsim.effect_sizes.<name>`` and ``scedsim.<name>``.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from .. import registry as _registry
from ._score import score_ci
# Import order is registry order (tables list metrics in it): these first, then
# any other module in alphabetical order.
from .nonoverlap import ird, nap, pand, pem, pet, pnd, pooled_ird, tau
from .trend import tau_bc, tau_u
from .parametric import lrr, smd  # noqa: I001

for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if not _info.name.startswith("_"):
        _importlib.import_module(f"{__name__}.{_info.name}")

#: The built-in metrics' public functions, in registry order.
METRIC_FUNCTIONS = {name: m.func for name, m in _registry.declared().items()}
globals().update(METRIC_FUNCTIONS)

__all__ = [*METRIC_FUNCTIONS, "score_ci", "pooled_ird"]
