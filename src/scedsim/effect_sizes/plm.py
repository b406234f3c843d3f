"""Piecewise regression (PLM): level and slope change of an AB series, OLS or AR(1) GLS."""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from scipy import special

from .._brent import brent_next, brent_state, brent_update
from .._numba import kernel
from .._results import EffectSize
from .._threads import run_rows
from .._validation import check_choice, check_confidence, check_magnitude, phases
from ..registry import KernelCase, Metric, Reference, TestSpec, register, register_test

__all__ = ["plm", "PLMResult", "Coefficient"]

MODELS = ("W", "H-M", "B&L-B", "JW")
EFFECTS = ("level", "slope")
COEFS = ("intercept", "trend", "level", "slope")
#: The AR(1) search stops at |phi| = 1 - 1e-12 (as gls does); atanh of that.
THETA_MAX = math.atanh(1.0 - 1e-12)
#: Coarse grid in atanh(phi) for the AR(1) profile likelihood, refined between the
#: neighbours of its best point (the derivative's root; Brent's minimisation as a fallback).
#: Denser near 0, where most optima lie.
_STEPS = (0.15, 0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.5, 1.8, 2.2, 2.7, 3.4, 4.5, 6.0, 8.0, 10.5)
GRID = np.array(sorted({0.0, THETA_MAX, -THETA_MAX} | {s for s in _STEPS} | {-s for s in _STEPS}))
#: Output rows of the kernel.
_FIELDS = 17
_LOG2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- kernels

def _plm_factor_python(phi, G, hq, L):
    """Cholesky factor of [X'TX, X'Ty; y'TX, y'Ty] at ``phi`` into ``L`` (see
    :func:`_plm_profile`): its last pivot Q~ goes to ``L[4, 4]``, the reciprocal pivots of X'TX to
    ``L[:4, 4]``.  False where X'TX is not numerically positive definite."""
    p2 = phi * phi
    for i in range(5):
        for j in range(i + 1):
            if i < 4:
                v = G[0, i, j] - phi * G[1, i, j] + p2 * G[2, i, j]
            else:
                v = hq[0, j] - phi * hq[1, j] + p2 * hq[2, j]
            for k in range(j):
                v -= L[i, k] * L[j, k]
            if i == j:
                if i < 4:
                    if not v > 0.0:
                        return False
                    L[i, i] = math.sqrt(v)
                    L[j, 4] = 1.0 / L[i, i]  # the reciprocal pivot, in the unused upper triangle
                else:
                    L[4, 4] = v
            else:
                L[i, j] = v * L[j, 4]
    return True


_plm_factor = kernel(_plm_factor_python)


def _plm_profile_python(theta, G, hq, L, N, X, z, beta):
    """-2 log-likelihood of the AR(1) model at phi = tanh(theta), less constants, profiled over
    beta and sigma^2: N log Q~ - log(1 - phi^2), where Q~ = (1 - phi^2) Q(phi).

    With T the tridiagonal matrix (1 - phi^2) R^-1, u'Tv = S0 - phi S1 + phi^2 S2 for the moments
    S0 = sum u_t v_t, S1 = sum (u_t v_t+1 + u_t+1 v_t), S2 = sum over t = 2..N-1 of u_t v_t:
    ``G`` holds them for the design (3 x 4 x 4), ``hq`` for (design, y) and (y, y) (3 x 5).
    The Cholesky factor of [X'TX, X'Ty; y'TX, y'Ty] goes to ``L``; its last pivot is Q~.
    ``X``, ``z`` (the design and the centred series) and ``beta`` (scratch) serve the exact
    path near Q~ = 0.
    """
    phi = math.tanh(theta)
    if not _plm_factor(phi, G, hq, L):
        return np.nan
    q = L[4, 4]
    if q <= 1e-6 * hq[0, 4]:
        # Q~ lost to cancellation (near-exact fits, phi near -1 with 1 residual df): from the
        # whitened residuals themselves, as the final fit computes it.
        for j in range(3, -1, -1):
            s = L[4, j]
            for k in range(j + 1, 4):
                s -= L[k, j] * beta[k]
            beta[j] = s / L[j, j]
        q = 0.0
        eprev = 0.0
        for i in range(N):
            e = z[i] - (X[i, 0] * beta[0] + X[i, 1] * beta[1] + X[i, 2] * beta[2] + X[i, 3] * beta[3])
            q += (1.0 - phi) * (1.0 + phi) * e * e if i == 0 else (e - phi * eprev) * (e - phi * eprev)
            eprev = e
    if not q > 0.0:
        return -np.inf  # y in the span of the whitened design: the likelihood is unbounded here
    # 1 - phi^2 from the rounded phi itself (exact near |phi| = 1), so that the objective is
    # one function of phi: near the boundary tanh moves phi in steps of an ulp.
    return N * math.log(q) - math.log((1.0 - phi) * (1.0 + phi))


_plm_profile = kernel(_plm_profile_python)


def _plm_dprofile_python(theta, G, hq, L, N, X, z, beta):
    """d/dtheta of :func:`_plm_profile`'s objective, from the GLS residuals r at phi = tanh(theta):
    (1 - phi^2) N Q~'/Q~ + 2 phi, where Q~' = -S1(r, r) + 2 phi S2(r, r) (the residuals' own
    moments; beta is at its optimum, so only T(phi) moves).  NaN where the fit fails.

    Its own derivative in theta goes to ``L[0, 1]`` (unused upper triangle; NaN on the exact
    path near Q~ = 0), from Q~'' = 2 S2(r, r) - 2 v'(X'TX)^-1 v with v = X'T'r, T' = dT/dphi
    (beta moves by (X'TX)^-1 v per unit phi).
    """
    phi = math.tanh(theta)
    if not _plm_factor(phi, G, hq, L):
        return np.nan
    q = L[4, 4]
    exact = not q > 1e-6 * hq[0, 4]
    if exact:
        f = _plm_profile(theta, G, hq, L, N, X, z, beta)
        if not math.isfinite(f):
            return np.nan
    elif not q < np.inf:
        return np.nan
    for j in range(3, -1, -1):
        s = L[4, j]
        for k in range(j + 1, 4):
            s -= L[k, j] * beta[k]
        beta[j] = s * L[j, 4]
    L[0, 1] = np.nan
    if not exact:
        # The residuals' moments from the row's and the design's: S(r, r) = S(z, z)
        # - 2 beta'S(X, z) + beta'S(X, X) beta, without cancellation trouble at this Q~;
        # w = L4^-1 v with v_j = -S1(X_j, r) + 2 phi S2(X_j, r).
        s1 = hq[1, 4]
        s2 = hq[2, 4]
        w0 = 0.0
        w1 = 0.0
        w2 = 0.0
        w3 = 0.0
        for j in range(4):
            t1 = 0.0
            t2 = 0.0
            for k in range(4):
                t1 += G[1, j, k] * beta[k]
                t2 += G[2, j, k] * beta[k]
            s1 += beta[j] * (t1 - 2.0 * hq[1, j])
            s2 += beta[j] * (t2 - 2.0 * hq[2, j])
            vj = (t1 - hq[1, j]) + 2.0 * phi * (hq[2, j] - t2)
            if j == 0:
                w0 = vj * L[0, 4]
            elif j == 1:
                w1 = (vj - L[1, 0] * w0) * L[1, 4]
            elif j == 2:
                w2 = (vj - L[2, 0] * w0 - L[2, 1] * w1) * L[2, 4]
            else:
                w3 = (vj - L[3, 0] * w0 - L[3, 1] * w1 - L[3, 2] * w2) * L[3, 4]
        c2 = (1.0 - phi) * (1.0 + phi)
        dq = 2.0 * phi * s2 - s1
        a = N * dq / q
        ddq = 2.0 * s2 - 2.0 * (w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3)
        L[0, 1] = c2 * (2.0 - 2.0 * phi * a + c2 * N * (ddq - dq * dq / q) / q)
    else:
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        eprev = 0.0
        for i in range(N):
            e = z[i] - (X[i, 0] * beta[0] + X[i, 1] * beta[1] + X[i, 2] * beta[2] + X[i, 3] * beta[3])
            s0 += e * e
            if i > 0:
                s1 += 2.0 * e * eprev
            if 0 < i < N - 1:
                s2 += e * e
            eprev = e
        q = s0 - phi * s1 + phi * phi * s2
    if not q > 0.0:
        return np.nan
    return (1.0 - phi) * (1.0 + phi) * N * (2.0 * phi * s2 - s1) / q + 2.0 * phi


_plm_dprofile = kernel(_plm_dprofile_python)


def _plm_2d_python(a, b, X, P, csd, G, grid, gridL, ar, sign, eff, tq, out):
    """Piecewise regression of each row of (a | b) on the design ``X`` (N x 4).

    ``P`` = (X'X)^-1 X' and ``csd`` = sqrt(diag((X'X)^-1)) serve the OLS fit; ``G``, ``grid`` and
    ``gridL`` the AR(1) profile likelihood (``ar`` = 1): ``gridL[k]`` is the Cholesky factor of
    X'T(phi_k)X at the grid's k-th point (reciprocal diagonal; phi_k, -log(1 - phi_k^2) and
    (1 - phi_k^2)^(-1/N) in its unused upper corner), so that a grid point costs a triangular
    solve per row.  Rows of
    ``out``: 0 the oriented effect (``sign`` times coefficient ``eff``), 1-2 its t interval
    (quantile ``tq``); 3-6 the coefficients; 7-10 their SEs; 11 F; 12 R^2; 13 adjusted R^2;
    14 phi; 15 log-likelihood (ML); 16 flags: 1 on the AR(1) boundary, 2 for a perfect fit.
    """
    rows, m = a.shape
    n = b.shape[1]
    N = m + n
    df = N - 4.0
    z = np.empty(N)
    beta = np.empty(4)
    L = np.empty((5, 5))
    hq = np.empty((3, 5))
    wv = np.empty(4)
    ng = grid.shape[0]
    fg = np.empty(ng)
    qg = np.empty(ng)
    for r in range(rows):
        # Centred on the first value: exact zeros for constant data, and less round-off.
        y0 = a[r, 0]
        zs = 0.0
        zmax = 0.0
        for i in range(m):
            v = a[r, i] - y0
            z[i] = v
            zs += v
            zmax = max(zmax, abs(v))
        for i in range(n):
            v = b[r, i] - y0
            z[m + i] = v
            zs += v
            zmax = max(zmax, abs(v))
        zbar = zs / N
        # OLS through the shared (X'X)^-1 X', and the total SS, in one pass.
        sst = 0.0
        b0 = 0.0
        b1 = 0.0
        b2 = 0.0
        b3 = 0.0
        for i in range(N):
            v = z[i]
            sst += (v - zbar) * (v - zbar)
            b0 += P[0, i] * v
            b1 += P[1, i] * v
            b2 += P[2, i] * v
            b3 += P[3, i] * v
        beta[0] = b0
        beta[1] = b1
        beta[2] = b2
        beta[3] = b3
        sse = 0.0
        for i in range(N):
            e = z[i] - (X[i, 0] * b0 + X[i, 1] * b1 + X[i, 2] * b2 + X[i, 3] * b3)
            sse += e * e
        # A fit exact up to round-off (constant phases, collinear points): SSE is 0.
        perfect = sse <= 1e-24 * N * zmax * zmax
        phi = 0.0
        boundary = 0.0
        logfac = 0.0          # -log(1 - phi^2)
        q = sse               # the residual SS behind the SEs (whitened for AR(1))
        sse_c = sse           # raw residual SS about the residuals' mean (R^2)
        if perfect:
            sse = 0.0
            q = 0.0
            sse_c = 0.0
            # Coefficients that are 0 up to round-off (relative to the weights of their
            # least-squares combination times the data's range) are 0: t is then NaN, not +-inf.
            for j in range(4):
                scale = 0.0
                for i in range(N):
                    scale += abs(P[j, i])
                if abs(beta[j]) <= 1e-12 * scale * zmax:
                    beta[j] = 0.0
            if ar:
                phi = np.nan  # every phi fits exactly: undefined
        elif ar:
            # Moments of (design, y) and (y, y) for the tridiagonal form.
            for j in range(5):
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                for i in range(N):
                    u = X[i, j] if j < 4 else z[i]
                    s0 += u * z[i]
                    if i < N - 1:
                        u1 = X[i + 1, j] if j < 4 else z[i + 1]
                        s1 += u * z[i + 1] + u1 * z[i]
                    if 0 < i < N - 1:
                        s2 += u * z[i]
                hq[0, j] = s0
                hq[1, j] = s1
                hq[2, j] = s2
            # Coarse grid; then the root of the derivative next to its best point (Newton's
            # method, or Illinois on the bracket), else Brent's minimisation there.  The grid
            # compares exp(f / N) = Q~ (1 - phi^2)^(-1/N), free of logarithms.
            best = 0
            vbest = np.inf
            for k in range(ng):
                ph = gridL[k, 0, 3]
                p2 = ph * ph
                qk = hq[0, 4] - ph * hq[1, 4] + p2 * hq[2, 4]
                for j in range(4):
                    v = hq[0, j] - ph * hq[1, j] + p2 * hq[2, j]
                    for l in range(j):
                        v -= gridL[k, j, l] * wv[l]
                    wv[j] = v * gridL[k, j, j]
                    qk -= wv[j] * wv[j]
                if qk > 1e-6 * hq[0, 4]:
                    val = qk * gridL[k, 2, 3]
                    qg[k] = qk
                else:
                    f = _plm_profile(grid[k], G, hq, L, N, X, z, beta)
                    val = f / N
                    val = math.exp(val) if val < 700.0 else (np.inf if val > 0.0 else val)
                    qg[k] = -1.0
                    fg[k] = f
                if val < vbest:
                    vbest = val
                    best = k
            # The objective itself at the best point and its neighbours.
            for k in range(max(best - 1, 0), min(best + 2, ng)):
                if qg[k] >= 0.0:
                    fg[k] = N * math.log(qg[k]) + gridL[k, 1, 3]
            fbest = fg[best] if vbest < np.inf else np.inf
            lo = grid[max(best - 1, 0)]
            hi = grid[min(best + 1, ng - 1)]
            x = grid[best]
            fx = fbest
            done = False
            if 0 < best < ng - 1 and fx > -np.inf and math.isfinite(fg[best - 1] + fg[best + 1]):
                # Newton's method on the derivative (its exact slope comes in L[0, 1]), from the
                # vertex of the parabola through the best grid point and its neighbours; it must
                # stay inside them, on the convex side.
                d1 = (fg[best + 1] - fx) / (hi - x)
                d0 = (fx - fg[best - 1]) / (x - lo)
                xa = x - (d0 * (hi - x) + d1 * (x - lo)) / (2.0 * (d1 - d0)) if d1 > d0 else x
                xa = min(max(xa, lo), hi)
                sp = 0.0
                for _ in range(20):
                    ga = _plm_dprofile(xa, G, hq, L, N, X, z, beta)
                    ha = L[0, 1]
                    if not (math.isfinite(ga) and 0.0 < ha < np.inf):
                        break
                    xn = xa - ga / ha
                    if not lo <= xn <= hi:
                        break
                    # Converged: a step below 1e-10, or one whose successor (|s|^3 / s_prev^2 in
                    # the quadratic regime) would be below 1e-14.
                    st = abs(xn - xa)
                    if ga == 0.0 or st <= 1e-10 * (1.0 + abs(xn)) or st * st * st <= 1e-14 * (1.0 + abs(xn)) * sp * sp:
                        x = xn
                        done = True
                        break
                    xa = xn
                    sp = st
            if not done and 0 < best < ng - 1 and fx > -np.inf:
                # The derivative changes sign across the best grid point's neighbours: its
                # root by the Illinois method (regula falsi, superlinear), to ~1e-12.
                ga = _plm_dprofile(lo, G, hq, L, N, X, z, beta)
                gb = _plm_dprofile(hi, G, hq, L, N, X, z, beta)
                if ga < 0.0 and gb > 0.0:
                    xa = lo
                    xb = hi
                    xp = x
                    side = 0
                    for _ in range(100):
                        xc = (xa * gb - xb * ga) / (gb - ga)
                        gc = _plm_dprofile(xc, G, hq, L, N, X, z, beta)
                        if not math.isfinite(gc):
                            break
                        if gc > 0.0:
                            xb = xc
                            gb = gc
                            if side == 1:
                                ga *= 0.5
                            side = 1
                        elif gc < 0.0:
                            xa = xc
                            ga = gc
                            if side == -1:
                                gb *= 0.5
                            side = -1
                        if gc == 0.0 or abs(xc - xp) <= 1e-10 * (1.0 + abs(xc)):
                            x = xc
                            done = True
                            break
                        xp = xc
            if done:
                # A root of the derivative that is no better than the grid's best point is not
                # the minimum: Brent's search decides.  (Leaves L factored at x.)
                fnew = _plm_profile(x, G, hq, L, N, X, z, beta)
                if fnew <= fbest + 1e-12 * (1.0 + abs(fbest)):
                    fx = fnew
                else:
                    done = False
                    x = grid[best]
            if fx > -np.inf and not done:
                st = brent_state(lo, hi, x, fx, x, fx, x, fx, 0.0)
                if 0 < best < ng - 1 and math.isfinite(fg[best - 1]) and math.isfinite(fg[best + 1]):
                    # Start from the parabola through the best grid point and its neighbours.
                    if fg[best + 1] < fg[best - 1]:
                        st = brent_state(lo, hi, x, fx, hi, fg[best + 1], lo, fg[best - 1], hi - lo)
                    else:
                        st = brent_state(lo, hi, x, fx, lo, fg[best - 1], hi, fg[best + 1], hi - lo)
                for _ in range(100):
                    st, u, stop = brent_next(st, 1e-6, 1e-6)
                    if stop:
                        break
                    st = brent_update(st, u, _plm_profile(u, G, hq, L, N, X, z, beta))
                lo, hi, x, fx = st[0], st[1], st[2], st[5]
            # The end of the range at least as good as the search's best (phi moves in ulp
            # steps there), or within its tolerance: the boundary.
            if done:
                pass
            elif (best == 0 or best == ng - 1) and (fbest <= fx or abs(x) >= grid[ng - 1] - 1e-6):
                x = grid[best]
                boundary = 1.0
            elif fx > -np.inf:
                # The objective is flat to round-off within ~1e-7 of its minimum: polish x by
                # the secant method on its exact derivative, inside Brent's final bracket.
                xa = x
                ga = _plm_dprofile(xa, G, hq, L, N, X, z, beta)
                xb = x + 1e-6 * (1.0 + abs(x))
                gb = _plm_dprofile(xb, G, hq, L, N, X, z, beta)
                for _ in range(6):
                    if not (math.isfinite(ga) and math.isfinite(gb)) or ga == gb:
                        break
                    xn = xb - gb * (xb - xa) / (gb - ga)
                    if not (lo - 1e-6 <= xn <= hi + 1e-6) or abs(xn - x) > 1e-4:
                        break
                    xa = xb
                    ga = gb
                    xb = xn
                    gb = _plm_dprofile(xb, G, hq, L, N, X, z, beta)
                    if abs(xb - xa) <= 1e-13 * (1.0 + abs(xb)):
                        x = xb
                        break
            if not done:
                _plm_profile(x, G, hq, L, N, X, z, beta)
            phi = math.tanh(x)
            c2 = (1.0 - phi) * (1.0 + phi)
            logfac = -math.log(c2)
            # beta from L4' beta = L[4, :4]; diag of (X'TX)^-1 from L4^-1 (into hq's rows).
            for j in range(3, -1, -1):
                s = L[4, j]
                for k in range(j + 1, 4):
                    s -= L[k, j] * beta[k]
                beta[j] = s / L[j, j]
            for j in range(4):
                # Column j of L4^-1: hq[0, k] for k >= j.
                for k in range(4):
                    hq[0, k] = 0.0
                hq[0, j] = 1.0 / L[j, j]
                for k in range(j + 1, 4):
                    s = 0.0
                    for l in range(j, k):
                        s -= L[k, l] * hq[0, l]
                    hq[0, k] = s / L[k, k]
                s = 0.0
                for k in range(j, 4):
                    s += hq[0, k] * hq[0, k]
                hq[1, j] = s
            # Whitened (Prais-Winsten) residual SS Q~ and the raw residuals, explicitly.
            q = 0.0
            sse = 0.0
            es = 0.0
            eprev = 0.0
            for i in range(N):
                e = z[i] - (X[i, 0] * beta[0] + X[i, 1] * beta[1] + X[i, 2] * beta[2] + X[i, 3] * beta[3])
                q += c2 * e * e if i == 0 else (e - phi * eprev) * (e - phi * eprev)
                eprev = e
                sse += e * e
                es += e
            sse_c = sse - es * es / N
            for j in range(4):
                out[7 + j, r] = math.sqrt(q / df * hq[1, j])
        if not ar or perfect:
            s = math.sqrt(q / df)
            for j in range(4):
                out[7 + j, r] = s * csd[j]
        beta0 = beta[0] + y0
        if perfect and abs(beta0) <= 1e-12 * (abs(y0) + zmax):
            beta0 = 0.0
        out[3, r] = beta0
        for j in range(1, 4):
            out[3 + j, r] = beta[j]
        if sse > 0.0:
            out[11, r] = ((sst - sse) / 3.0) / (sse / df)
        else:
            out[11, r] = np.inf if sst > 0.0 else np.nan
        if sst > 0.0:
            r2 = 1.0 - sse_c / sst
            out[12, r] = r2
            out[13, r] = 1.0 - (1.0 - r2) * (N - 1.0) / df
        else:
            out[12, r] = np.nan
            out[13, r] = np.nan
        out[14, r] = phi
        # ML log-likelihood: -(N log(2 pi Q/N) + (N - 1) log(1 - phi^2) + N) / 2, Q = Q~/(1 - phi^2).
        out[15, r] = np.inf if q <= 0.0 else -0.5 * (N * (_LOG2PI + math.log(q / N)) + logfac + N)
        out[16, r] = boundary + (2.0 if perfect else 0.0)
        est = sign * out[3 + eff, r]
        se = out[7 + eff, r]
        out[0, r] = est
        out[1, r] = est - tq * se
        out[2, r] = est + tq * se


_plm_2d = kernel(_plm_2d_python)


# --------------------------------------------------------------------------- design

def design_matrix(times: np.ndarray, m: int, model: str) -> np.ndarray:
    """The N x 4 design (1, trend, level, slope) of ``model`` at session ``times`` (m in A).

    W: trend t - t_1, slope D (t - t_B); H-M: trend t, slope D (t - t_B); B&L-B and JW:
    trend t, slope D (t - t_B + 1), where t_B is the first B session and D = 1 in B.
    """
    t = np.asarray(times, dtype=np.float64)
    d = np.zeros(t.size)
    d[m:] = 1.0
    tb = t[m]
    trend = t - t[0] if model == "W" else t.copy()
    slope = d * (t - tb + (1.0 if model in ("B&L-B", "JW") else 0.0))
    return np.column_stack([np.ones(t.size), trend, d, slope])


@lru_cache(maxsize=64)
def _design_args(times: tuple, m: int, model: str):
    X = design_matrix(np.array(times), m, model)
    q, rr = np.linalg.qr(X)
    if np.min(np.abs(np.diag(rr))) <= 1e-10 * np.max(np.abs(np.diag(rr))):
        raise ValueError("PLM design is singular: each phase needs 2 distinct session times")
    rinv = np.linalg.inv(rr)
    P = np.ascontiguousarray(rinv @ q.T)
    csd = np.ascontiguousarray(np.sqrt(np.sum(rinv * rinv, axis=1)))
    G = np.zeros((3, 4, 4))
    G[0] = X.T @ X
    G[1] = X[:-1].T @ X[1:] + X[1:].T @ X[:-1]
    G[2] = X[1:-1].T @ X[1:-1]
    N = X.shape[0]
    gridL = np.zeros((GRID.size, 4, 4))
    for k, theta in enumerate(GRID):
        phi = math.tanh(theta)
        try:
            low = np.linalg.cholesky(G[0] - phi * G[1] + phi * phi * G[2])
            gridL[k] = np.tril(low)
            gridL[k][np.diag_indices(4)] = 1.0 / np.diag(low)
        except np.linalg.LinAlgError:
            gridL[k] = np.nan  # numerically singular near |phi| = 1: the kernel's full path decides
        gridL[k, 0, 3] = phi
        gridL[k, 1, 3] = -math.log((1.0 - phi) * (1.0 + phi))
        gridL[k, 2, 3] = ((1.0 - phi) * (1.0 + phi)) ** (-1.0 / N)
    for arr in (X, P, csd, G, gridL):
        arr.flags.writeable = False
    return np.ascontiguousarray(X), P, csd, G, gridL


@lru_cache(maxsize=64)
def _t_quantile(df: int, confidence: float) -> float:
    return float(special.stdtrit(df, 0.5 + confidence / 2.0))


def _kernel_args(m, n, model="W", ar=0, sign=1.0, effect="level", confidence=0.95, times=None):
    times = tuple(range(1, m + n + 1)) if times is None else tuple(times)
    X, P, csd, G, gridL = _design_args(times, m, model)
    return (X, P, csd, G, GRID, gridL, int(ar), float(sign), 2 + EFFECTS.index(effect),
            _t_quantile(m + n - 4, confidence))


def _times(times, rows: int, N: int) -> np.ndarray:
    """Session times as a (1 or rows, N) float64 array; None means 1..N."""
    if times is None:
        return np.arange(1.0, N + 1.0).reshape(1, N)
    if isinstance(times, tuple) and len(times) == 2 and all(np.ndim(x) >= 1 for x in times):
        times = np.concatenate([np.asarray(times[0]), np.asarray(times[1])], axis=-1)
    try:
        t = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("PLM times must be numbers") from None
    if t.ndim == 1:
        t = t.reshape(1, -1)
    if t.ndim != 2 or t.shape[1] != N or t.shape[0] not in (1, rows):
        raise ValueError(f"PLM times must hold one time per point, m + n = {N} (one row, or one per "
                         f"series: {rows}); got shape {np.shape(times)}")
    if not np.all(np.isfinite(t)):
        raise ValueError("PLM times contain NaN or an infinite value")
    if np.any(np.diff(t, axis=1) <= 0):
        raise ValueError("PLM times must be strictly increasing, A's before B's")
    return t


# --------------------------------------------------------------------------- results

def _frozen(x, is_1d):
    if is_1d:
        return float(x[0])
    x = np.asarray(x)
    if x.flags.writeable:
        x.flags.writeable = False
    return x


@dataclass(frozen=True, repr=False, eq=False)
class Coefficient:
    """One coefficient of a piecewise regression.

    Attributes
    ----------
    name : str
        ``"intercept"``, ``"trend"``, ``"level"`` or ``"slope"``.
    estimate, se : float or numpy.ndarray
        The coefficient (of the fit to the raw data, whatever the direction of
        improvement) and its standard error.
    df : int
        Residual degrees of freedom, N - 4.
    statistic, pvalue : float or numpy.ndarray
        t = estimate / se and its two-sided p-value on ``df`` degrees of freedom
        (computed when first read).  With SE 0 (a perfect fit) t is +-inf and
        p = 0 for a non-zero coefficient, NaN for a zero one.
    """

    name: str
    estimate: Any
    se: Any
    df: int

    @cached_property
    def statistic(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.asarray(self.estimate, dtype=np.float64) / np.asarray(self.se, dtype=np.float64)
        return _frozen(np.atleast_1d(t), np.ndim(self.estimate) == 0)

    @cached_property
    def pvalue(self):
        t = np.atleast_1d(np.asarray(self.statistic, dtype=np.float64))
        return _frozen(2.0 * special.stdtr(self.df, -np.abs(t)), np.ndim(self.estimate) == 0)

    def __repr__(self) -> str:
        if np.ndim(self.estimate):
            return f"Coefficient({self.name}, batch of {np.size(self.estimate)}, df={self.df})"
        return (f"Coefficient({self.name}: estimate={self.estimate:.6g}, se={self.se:.6g}, "
                f"t={self.statistic:.4g}, p={self.pvalue:.4g}, df={self.df})")


@dataclass(frozen=True, repr=False, eq=False)
class PLMResult(EffectSize):
    """A piecewise regression: the oriented effect (``estimate``, ``se``, t interval)
    plus the whole fit.

    Attributes
    ----------
    intercept, trend, level, slope : Coefficient
        The coefficients of the fit to the raw data (never negated).
    f_statistic : float or numpy.ndarray
        F of the model against the intercept alone, on 3 and N - 4 df (from the raw
        residuals for AR(1)); ``f_pvalue`` its upper tail.
    r2, r2_adj : float or numpy.ndarray
        1 - var(residuals) / var(y) and its adjusted version.
    df : int
        N - 4.
    phi : float or numpy.ndarray
        The AR(1) coefficient (0 for OLS; NaN for AR(1) when the fit is perfect).
    boundary : bool or numpy.ndarray
        AR(1): the likelihood grows without bound towards |phi| = 1; the values
        are those at |phi| = 1 - 1e-12.
    perfect_fit : bool or numpy.ndarray
        The residuals are 0 up to round-off: SEs are 0.
    loglik : float or numpy.ndarray
        The maximised (ML) log-likelihood.
    """

    intercept: Any = None
    trend: Any = None
    level: Any = None
    slope: Any = None
    f_statistic: Any = np.nan
    r2: Any = np.nan
    r2_adj: Any = np.nan
    df: int = 0
    phi: Any = 0.0
    boundary: Any = False
    perfect_fit: Any = False
    loglik: Any = np.nan

    @cached_property
    def f_pvalue(self):
        f = np.atleast_1d(np.asarray(self.f_statistic, dtype=np.float64))
        # A negative F (GLS residuals larger than the mean's, AR(1)): p = 1, as R's pf.
        f = np.where(f < 0.0, 0.0, f)
        return _frozen(special.fdtrc(3, self.df, f), np.ndim(self.f_statistic) == 0)

    def _extra_repr(self):
        return ("f_statistic", "r2") + (("phi",) if self.options.get("ar") == 1 else ())


def _result(out, is_1d, m, n, improvement, options) -> PLMResult:
    df = m + n - 4
    f = [_frozen(out[k], is_1d) for k in range(_FIELDS)]
    coefs = {name: Coefficient(name, f[3 + j], f[7 + j], df) for j, name in enumerate(COEFS)}
    se = f[7 + 2 + EFFECTS.index(options["effect"])]
    flag = (lambda v: bool(v[0])) if is_1d else (lambda v: _frozen(np.asarray(v) != 0.0, False))
    flags = out[16]
    return PLMResult(f"PLM {options['effect']}", f[0], se, f[1], f[2], m, n, improvement, options,
                     **coefs, f_statistic=f[11], r2=f[12], r2_adj=f[13], df=df, phi=f[14],
                     boundary=flag(flags == 1.0), perfect_fit=flag(flags == 2.0), loglik=f[15])


# --------------------------------------------------------------------------- public function

def plm(a, b, *, model: str = "W", ar: int = 0, improvement: str = "increase", times=None,
        effect: str = "level", confidence: float = 0.95) -> PLMResult:
    """Piecewise regression (PLM) of an AB series: baseline intercept and trend, level and slope change.

    y_t = b0 + b1 trend_t + b2 D_t + b3 slope_t + e_t with D_t = 1 in phase B and the
    parameterisations of scan's ``plm`` (t = 1..N, or ``times``; m points in A):

    ======== ========= ======================
    model    trend     slope
    ======== ========= ======================
    W        t - 1     D (t - (m + 1))
    H-M      t         D (t - (m + 1))
    B&L-B    t         D (t - m)
    JW       t         D (t - m)  (two phases)
    ======== ========= ======================

    ``ar=0``: ordinary least squares; SE = sqrt(s^2 diag (X'X)^-1), s^2 = SSE / (N - 4),
    t tests on N - 4 df.  ``ar=1``: AR(1) errors (R(phi)_ij = phi^|i - j| by position)
    fitted by maximum likelihood, as ``nlme::gls(correlation = corARMA(p = 1), method =
    "ML")``: phi maximises the profile likelihood -2l = N log(2 pi Q(phi)/N) + (N - 1)
    log(1 - phi^2) + N, Q the GLS residual SS (a grid in atanh phi, then the root of the exact
    derivative next to the grid's best point, by Newton's method; Brent's method as fallback);
    the SEs use Q(phi)/(N - 4).  The F test and R^2 use the raw residuals.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases, at least 2 points each and 5 in all
        (1-D, or 2-D with one series per row).
    model : {"W", "H-M", "B&L-B", "JW"}
        Parameterisation (they differ in the intercept and in where the slope change
        is anchored; the level change differs between W/H-M and B&L-B/JW).
    ar : {0, 1}
        0: OLS; 1: AR(1) errors by maximum likelihood.
    improvement : {"increase", "decrease"}
        Direction of improvement.  The model is fitted to the raw data, and the
        coefficients (``intercept``, ``trend``, ``level``, ``slope``) are reported as
        fitted; only the oriented summary (``estimate``, its interval, and the
        one-sided decisions built on it) is negated for ``"decrease"``.
    times : array_like, optional
        Session times of the N points (one row, a pair (times_a, times_b), or one row
        per series), strictly increasing; they replace t = 1..N in the design.  The
        AR(1) correlation stays by position, as corARMA's.
    effect : {"level", "slope"}
        The coefficient reported as ``estimate`` (oriented), ``se`` and interval.
    confidence : float
        Level of the t interval (N - 4 df) of ``estimate``.

    Returns
    -------
    PLMResult
        ``estimate``, ``se``, ``ci_lower``, ``ci_upper`` (the oriented effect),
        ``intercept``, ``trend``, ``level``, ``slope`` (each with ``estimate``, ``se``,
        ``statistic``, ``pvalue``, ``df``), ``f_statistic``, ``f_pvalue``, ``r2``,
        ``r2_adj``, ``phi``, ``boundary``, ``perfect_fit``, ``loglik``.

    Notes
    -----
    A perfect fit (residuals 0 up to round-off, e.g. constant phases) gives SEs of 0,
    t = +-inf (p = 0) for a non-zero coefficient and NaN for a zero one, F = inf with
    p = 0 (NaN when all values are equal), and a warning; R reports round-off there.
    With AR(1) and few residual degrees of freedom the likelihood can grow without
    bound as phi -> +-1: the search stops at |phi| = 1 - 1e-12, returns the limiting
    fit (SEs near 0), sets ``boundary`` and warns (gls stops there too, or fails).

    In a simulation study the t test is the registered test ``plm_test``:
    ``{name = "plm_test", effect = "level"}`` gives the p-value ``p_plm_level`` (rule
    ``"p_plm_level <= 0.05"``), two-sided as R reports it, or one-sided in the direction
    of improvement with ``alternative = "greater"``; ``model`` and ``ar`` pass through.

    References
    ----------
    Huitema, B. E., & McKean, J. W. (2000). Design specification issues in
    time-series intervention models. *Educational and Psychological Measurement*,
    60(1), 38-58.

    Beretvas, S. N., & Chung, H. (2008). An evaluation of modified R2-change effect
    size indices for single-subject experimental designs. *Evidence-Based
    Communication Assessment and Intervention*, 2(3), 120-128.

    Examples
    --------
    The worked example (model W):

    >>> import scedsim as ss
    >>> r = ss.plm([18, 20], [19, 18, 20, 19, 18])
    >>> round(r.level.estimate, 6), round(r.level.se, 6), round(r.level.pvalue, 6)
    (-3.0, 2.244994, 0.273765)
    >>> round(r.slope.estimate, 6), round(r.f_statistic, 6), round(r.f_pvalue, 6), round(r.r2, 6)
    (-2.1, 0.798942, 0.571003, 0.444118)
    >>> r1 = ss.plm([18, 20], [19, 18, 20, 19, 18], ar=1)
    >>> round(r1.phi, 6), round(r1.level.estimate, 6), round(r1.level.se, 6)
    (-0.403187, -3.190885, 2.520695)
    >>> round(ss.plm([18, 20], [19, 18, 20, 19, 18], model="B&L-B").level.estimate, 6)
    -0.9
    >>> r.estimate == -ss.plm([18, 20], [19, 18, 20, 19, 18], improvement="decrease").estimate
    True
    """
    check_choice("model", model, MODELS)
    check_choice("effect", effect, EFFECTS)
    if isinstance(ar, (bool, np.bool_)) or not isinstance(ar, numbers.Integral) or int(ar) not in (0, 1):
        raise ValueError(f"ar must be 0 (OLS) or 1 (AR(1) errors), got {ar!r}")
    ar = int(ar)
    c = check_confidence(confidence)
    # The fit is of the raw data: only the oriented summary follows the direction.
    A, B, is_1d = phases(a, b, "increase", min_a=2, min_b=2, metric="PLM")
    check_magnitude("PLM", A, B)
    check_choice("improvement", improvement, ("increase", "decrease"))
    m, n = A.shape[1], B.shape[1]
    if m + n <= 4:
        raise ValueError(f"PLM needs at least 5 points (4 coefficients and 1 residual df), got {m + n}")
    t = _times(times, A.shape[0], m + n)
    sign = 1.0 if improvement == "increase" else -1.0
    out = np.empty((_FIELDS, A.shape[0]))
    groups = [(None, t[0])] if t.shape[0] == 1 else _groups(t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for idx, tt in groups:
            args = _kernel_args(m, n, model, ar, sign, effect, c, tuple(tt.tolist()))
            if idx is None:
                run_rows(_plm_2d, A, B, out, *args)
            else:
                sub = np.empty((_FIELDS, idx.size))
                run_rows(_plm_2d, np.ascontiguousarray(A[idx]), np.ascontiguousarray(B[idx]), sub, *args)
                out[:, idx] = sub
    options = {"model": model, "ar": ar, "effect": effect, "confidence": confidence}
    if times is not None:
        options["times"] = "given"
    _warn(out, ar)
    return _result(out, is_1d, m, n, improvement, options)


def _groups(t: np.ndarray):
    """Rows of per-series ``times`` grouped by their (shared) times."""
    uniq, inv = np.unique(t, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    return [(np.flatnonzero(inv == k), uniq[k]) for k in range(uniq.shape[0])]


def _warn(out: np.ndarray, ar: int) -> None:
    # Fixed texts: Python shows each once per place, not once per batch of a simulation.
    if np.any(out[16] == 2.0):
        warnings.warn("PLM: a series fits perfectly (residuals 0): its SEs are 0, t and p are +-inf/0 "
                      "or NaN (perfect_fit=True)", RuntimeWarning, stacklevel=3)
    if ar and np.any(out[16] == 1.0):
        warnings.warn("PLM AR(1): for a series the likelihood grows without bound as |phi| -> 1; its fit "
                      "is reported at |phi| = 1 - 1e-12 (boundary=True)", RuntimeWarning, stacklevel=3)


# --------------------------------------------------------------------------- registry entries

def _scan_plm(o, imp, metric):
    # scan fits the raw data whatever the direction; AR(1) rows (ML by R's optimiser,
    # agreeing to about 1e-4) are compared in tests/test_plm.py, not at 1e-9.
    if o.get("AR") != "0" or o.get("family", "gaussian") != "gaussian":
        return None
    return dict(improvement="increase", model=o["model"], effect=metric[len("plm_"):])


def _plm_test_check(options, improvement):
    check_choice("alternative", options.get("alternative", "two-sided"), ("two-sided", "greater"))
    check_choice("effect", options["effect"], EFFECTS)


def _plm_pvalues(a, b, improvement="increase", *, effect, alternative="two-sided", **options):
    """The t test of the level (or slope) change per row: two-sided as R reports it, or
    one-sided in the direction of improvement (``alternative="greater"``)."""
    _plm_test_check({"effect": effect, "alternative": alternative}, improvement)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # perfect fits and AR(1) boundaries: p as documented
        r = plm(a, b, improvement=improvement, effect=effect, **options)
    t = np.atleast_1d(np.asarray(getattr(r, effect).statistic, dtype=np.float64))
    if alternative == "greater":
        # The oriented statistic: sign * t.
        t = t if improvement == "increase" else -t
        return special.stdtr(r.df, -t)
    return 2.0 * special.stdtr(r.df, -np.abs(t))


register(Metric(
    name="plm", label="PLM", title="PLM level change (piecewise regression)", func=plm,
    has_se=True, has_ci=True, min_a=2, min_b=2, time_ordered=True, spaced=True, default=False,
    # A regression on time is no rank statistic, and permuting points breaks its design.
    statistic=False,
    references=tuple(Reference("comparators", "scan", f"plm_{e}", _scan_plm, ("estimate", "se"))
                     for e in EFFECTS),
    # Under a pure level shift (no trend, stationary errors) every model's level coefficient
    # is unbiased for the shift and its slope change for 0.
    limit=lambda q, o: q.delta if o.get("effect", "level") == "level" else 0.0,
    undefined="PLM not defined: fewer than 5 points, or fewer than 2 in a phase",
    kernels=(KernelCase("plm-ols", _plm_2d, _FIELDS, lambda m, n: _kernel_args(m, n)),
             KernelCase("plm-ar1", _plm_2d, _FIELDS, lambda m, n: _kernel_args(m, n, "H-M", 1)),
             KernelCase("plm-bl-slope-decrease", _plm_2d, _FIELDS,
                        lambda m, n: _kernel_args(m, n, "B&L-B", 0, -1.0, "slope", 0.9)),
             KernelCase("plm-ar1-jw-slope-decrease", _plm_2d, _FIELDS,
                        lambda m, n: _kernel_args(m, n, "JW", 1, -1.0, "slope", 0.9)))))

register_test(TestSpec(name="plm_test", prefix="p_plm", pvalues=_plm_pvalues, needs=("effect",),
                       check=_plm_test_check, min_pvalue=lambda o, m, n, k: 0.0, discrete=False))
