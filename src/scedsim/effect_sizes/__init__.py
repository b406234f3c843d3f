"""Effect sizes for single-case AB comparisons (validation, direction, results)."""
from ._score import score_ci
# Import order is registry order (tables list metrics in it).
from .nonoverlap import ird, nap, pand, pem, pet, pnd, pooled_ird, tau
from .trend import tau_bc, tau_u
from .parametric import lrr, smd  # noqa: I001

__all__ = ["nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc", "smd", "lrr", "score_ci", "pooled_ird"]
