"""scedsim: effect sizes and Monte Carlo simulation for single-case experimental designs."""
from ._threads import get_num_threads, set_num_threads
from ._results import EffectSize, TauBCResult
from .effect_sizes import ird, lrr, nap, pand, pem, pet, pnd, score_ci, smd, tau, tau_bc, tau_u
# Every built-in metric's function, also those of modules added later (the registry's list).
from .effect_sizes import METRIC_FUNCTIONS as _METRIC_FUNCTIONS
globals().update(_METRIC_FUNCTIONS)
from . import datasets, io, registry
from . import between_case, designs
from .between_case import BCSMD, bcsmd, bcsmd_batch
from .registry import get_metric, register_metric, unregister_metric
# The table-level function takes the name of the subpackage on purpose (DESIGN.md:
# ``ss.effect_sizes(df, ...)``).  The subpackage stays importable by its dotted path:
# ``from scedsim.effect_sizes import nonoverlap``.
from .tidy import EffectSizeTables, effect_sizes, summarize
from .multilevel import HplmResult, hplm
from .plan import PlanResult, plan
from .baseline_model import BaselineFit, fit_baseline

from ._version import __version__

__all__ = [*_METRIC_FUNCTIONS,
           "score_ci", "effect_sizes", "registry", "register_metric", "unregister_metric", "get_metric", "summarize", "EffectSizeTables", "datasets", "io",
           "hplm", "HplmResult", "plan", "PlanResult", "EffectSize", "TauBCResult", "between_case", "designs", "fit_baseline", "BaselineFit", "bcsmd", "bcsmd_batch", "BCSMD", "get_num_threads", "set_num_threads", "__version__"]
