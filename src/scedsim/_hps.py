"""Kernels of the HPS design-comparable SMD: multiple-baseline (2013) and (AB)^k (2012) designs.

Layout shared with :mod:`scedsim._reml_ar1`: a set is ``y[case, j]`` padded to
the longest case, with ``n[case]`` points, integer ``times[case, j]``
(increasing within a case), ``trt[case, j]`` 1.0 for treatment and 0.0 for
baseline, ``cell[case, j]`` the index of the (session, phase) cell of the
point and ``ncell[c]`` the number of points in cell ``c``.  Only ``y``
changes between the sets of a batch.
"""
from __future__ import annotations

import math

from ._numba import kernel

#: Output rows of :func:`_hps_mb`.
HPS_FIELDS = ("estimate", "se", "nu", "delta_unadjusted", "D_bar", "S2", "phi", "sigma2_within",
              "rho", "theta", "J")


def _g_var_python(delta, theta2, nu, j_at_truncated):
    """``(J, g, var)``: Hedges' small-sample factor J(nu) = 1 - 3 / (4 nu - 1), g = J delta
    and the variance of g (HPS 2012, eq. 29; nu truncated at 2.001 so that it stays
    finite).  ``j_at_truncated``: the 1/J^2 term at the truncated nu (scdhlm's REML)."""
    J = 1.0 - 3.0 / (4.0 * nu - 1.0)
    est = J * delta
    nut = nu if nu > 2.001 else 2.001
    Jt = 1.0 - 3.0 / (4.0 * nut - 1.0) if j_at_truncated else J
    return J, est, J * J * (theta2 * nut / (nut - 2.0) + est * est * (nut / (nut - 2.0) - 1.0 / (Jt * Jt)))


_g_var = kernel(_g_var_python)


def _hps_finish_python(out, s, M, ncell, trss, nu_num, theta2, delta_u, dbar, S2, phi, s2w, rho):
    """Steps 5 (the cells' cross terms of tr(A S A S)) and 7 of HPS, and the output column
    ``out[:, s]``; the numerator of nu is (g - K)^2 for multiple baselines, (K (k - 1))^2
    for (AB)^k designs."""
    K = ncell.shape[0]
    for c in range(K):
        for c2 in range(K):
            m = M[c * K + c2]
            trss += m * m / (ncell[c] * ncell[c2])
    nu = nu_num / trss
    J, est, var = _g_var(delta_u, theta2, nu, False)
    out[0, s] = est
    out[1, s] = math.sqrt(var) if var >= 0.0 else math.nan
    out[2, s] = nu
    out[3, s] = delta_u
    out[4, s] = dbar
    out[5, s] = S2
    out[6, s] = phi
    out[7, s] = s2w
    out[8, s] = rho
    out[9, s] = math.sqrt(theta2)
    out[10, s] = J


_hps_finish = kernel(_hps_finish_python)


def _hps_mb_python(Y, times, trt, n, cell, ncell, lagmax, work, out):
    """out[:, s] = the HPS fields (``HPS_FIELDS``) of set ``Y[s]``.

    ``work`` needs ``lagmax + 1 + K + K*K`` floats, K = len(ncell).
    """
    n_sets, k = Y.shape[0], Y.shape[1]
    K = ncell.shape[0]
    pw = work[0:lagmax + 1]
    cmean = work[lagmax + 1:lagmax + 1 + K]
    M = work[lagmax + 1 + K:lagmax + 1 + K + K * K]
    g = 0
    for i in range(k):
        g += n[i]
    for s in range(n_sets):
        y = Y[s]
        # 1. Mean B - A per case; 3. AR(1) moments of the residuals around the case x phase means.
        dsum = 0.0
        a0 = 0.0
        a1 = 0.0
        hsum = 0.0
        for i in range(k):
            sa = 0.0
            sb = 0.0
            ha = 0
            for j in range(n[i]):
                if trt[i, j] > 0.5:
                    sb += y[i, j]
                else:
                    sa += y[i, j]
                    ha += 1
            hb = n[i] - ha
            ma = sa / ha
            mb = sb / hb
            dsum += mb - ma
            hsum += (ha - 1.0) / ha + (hb - 1.0) / hb
            prev = 0.0
            for j in range(n[i]):
                e = y[i, j] - (mb if trt[i, j] > 0.5 else ma)
                a0 += e * e
                if j > 0:
                    a1 += e * prev
                prev = e
        dbar = dsum / k
        # 2. Residual variance around the session x phase cell means (across cases).
        for c in range(K):
            cmean[c] = 0.0
        for i in range(k):
            for j in range(n[i]):
                cmean[cell[i, j]] += y[i, j]
        for c in range(K):
            cmean[c] /= ncell[c]
        ss = 0.0
        for i in range(k):
            for j in range(n[i]):
                r = y[i, j] - cmean[cell[i, j]]
                ss += r * r
        S2 = ss / (g - K)
        delta_u = dbar / math.sqrt(S2)
        # 3. phi: lag-1 autocorrelation plus the bias correction of HPS (2013).
        phi = a1 / a0 + hsum / (g - 2 * k)
        pw[0] = 1.0
        for d in range(1, lagmax + 1):
            pw[d] = pw[d - 1] * phi
        # 4. Within-case variance: a0 over g minus tr((X'X)^-1 X'R(phi)X).
        tr = 0.0
        for i in range(k):
            ha = 0
            for j in range(n[i]):
                if trt[i, j] < 0.5:
                    ha += 1
            hb = n[i] - ha
            for j in range(n[i]):
                for l in range(n[i]):
                    if trt[i, j] == trt[i, l]:
                        lag = abs(times[i, j] - times[i, l])
                        tr += pw[lag] / (hb if trt[i, j] > 0.5 else ha)
        s2w = a0 / (g - tr)
        rho = 1.0 - s2w / S2
        if rho < 0.0:
            rho = 0.0
        # 5. nu = (g - K)^2 / tr(A S A S), S = rho + (1 - rho) phi^|t - s| within a case and
        #    A = I - P, P the projection on the cell indicators:
        #    tr(ASAS) = sum_j (1 - 2/n_c(j)) (S^2)_jj + sum_{c,c'} M_cc'^2/(n_c n_c'),
        #    M_cc' = 1_c' S 1_c' (one point per case and cell).
        # 6. theta^2 = sum_i Var(D_i) / k^2 from the same blocks.
        for c in range(K * K):
            M[c] = 0.0
        trss = 0.0
        vd = 0.0
        for i in range(k):
            ha = 0
            for j in range(n[i]):
                if trt[i, j] < 0.5:
                    ha += 1
            hb = n[i] - ha
            vaa = 0.0
            vbb = 0.0
            vab = 0.0
            for j in range(n[i]):
                diag = 0.0
                cj = cell[i, j]
                for l in range(n[i]):
                    v = rho + (1.0 - rho) * pw[abs(times[i, j] - times[i, l])]
                    diag += v * v
                    M[cj * K + cell[i, l]] += v
                    if trt[i, j] > 0.5:
                        if trt[i, l] > 0.5:
                            vbb += v
                        else:
                            vab += v
                    elif trt[i, l] < 0.5:
                        vaa += v
                trss += (1.0 - 2.0 / ncell[cj]) * diag
            vd += vbb / (hb * hb) + vaa / (ha * ha) - 2.0 * vab / (ha * hb)
        _hps_finish(out, s, M, ncell, trss, (g - K) ** 2, vd / (k * k), delta_u, dbar, S2, phi, s2w, rho)


_hps_mb = kernel(_hps_mb_python)


def _hps_abk_python(Y, times, trt, n, run, nrun, ordn, cell, ncell, npairs, lagmax, work, out):
    """out[:, s] = the HPS fields (``HPS_FIELDS``) of set ``Y[s]`` of an (AB)^k design.

    Hedges, Pustejovsky & Shadish (2012), section 4.  ``run[case, j]`` is the
    index of the phase (a maximal run of baseline or treatment points of one
    case) holding the point, ``nrun[r]`` its number of points and
    ``ordn[case, j]`` the point's position in it (0, 1, ...).  ``cell[case, j]``
    is the (phase pair, condition, position) cell of the point when every
    case has that point, else -1; ``ncell[c]`` = number of cases.  Every case
    has ``npairs`` AB pairs.  ``work`` needs ``lagmax + 1 + R + K + K*K``
    floats, R = len(nrun), K = len(ncell).
    """
    n_sets, k = Y.shape[0], Y.shape[1]
    R = nrun.shape[0]
    K = ncell.shape[0]
    pw = work[0:lagmax + 1]
    rmean = work[lagmax + 1:lagmax + 1 + R]
    cmean = work[lagmax + 1 + R:lagmax + 1 + R + K]
    M = work[lagmax + 1 + R + K:lagmax + 1 + R + K + K * K]
    g = 0
    for i in range(k):
        g += n[i]
    hsum = 0.0
    for r in range(R):
        hsum += (nrun[r] - 1.0) / nrun[r]
    npts = k * npairs  # number of (case, pair) differences
    for s in range(n_sets):
        y = Y[s]
        # 1. Phase means; D-bar = mean over cases and pairs of (B mean - A mean).
        for r in range(R):
            rmean[r] = 0.0
        for i in range(k):
            for j in range(n[i]):
                rmean[run[i, j]] += y[i, j]
        for r in range(R):
            rmean[r] /= nrun[r]
        dsum = 0.0
        for i in range(k):
            for j in range(n[i]):
                w = 1.0 / nrun[run[i, j]]
                dsum += w * y[i, j] if trt[i, j] > 0.5 else -w * y[i, j]
        dbar = dsum / npts
        # 2. S^2: variance across cases around the (pair, condition, position) means, over the
        #    positions every case has: M. (m - 1) df.
        for c in range(K):
            cmean[c] = 0.0
        for i in range(k):
            for j in range(n[i]):
                if cell[i, j] >= 0:
                    cmean[cell[i, j]] += y[i, j]
        for c in range(K):
            cmean[c] /= ncell[c]
        ss = 0.0
        for i in range(k):
            for j in range(n[i]):
                if cell[i, j] >= 0:
                    r2 = y[i, j] - cmean[cell[i, j]]
                    ss += r2 * r2
        S2 = ss / (K * (k - 1.0))
        delta_u = dbar / math.sqrt(S2)
        # 3. phi: lag-1 autocorrelation of the residuals around the phase means, within phases,
        #    plus the bias correction sum (1 - 1/n_r) / sum (n_r - 1).
        a0 = 0.0
        a1 = 0.0
        for i in range(k):
            prev = 0.0
            for j in range(n[i]):
                e = y[i, j] - rmean[run[i, j]]
                a0 += e * e
                if j > 0 and run[i, j] == run[i, j - 1]:
                    a1 += e * prev
                prev = e
        phi = a1 / a0 + hsum / (g - R)
        pw[0] = 1.0
        for d in range(1, lagmax + 1):
            pw[d] = pw[d - 1] * phi
        # 4. sigma^2_w = a0 / (g - tr((X'X)^-1 X'R(phi)X)), X the phase indicators and R(phi) over
        #    the positions within a phase: sum_r (1/n_r) sum_{j,l} phi^|j - l|.
        tr = 0.0
        for r in range(R):
            h = nrun[r]
            t = h * 1.0
            for d in range(1, h):
                t += 2.0 * (h - d) * pw[d]
            tr += t / h
        s2w = a0 / (g - tr)
        rho = 1.0 - s2w / S2
        if rho < 0.0:
            rho = 0.0
        # 5. nu = (M. (m - 1))^2 / tr(A S A S) over the points in the cells, S = rho + (1 - rho)
        #    phi^|t - s| (session numbers) within a case; one point per case and cell, as in _hps_mb.
        # 6. theta^2 = Var(D-bar) / (tau^2 + sigma^2) under S.
        for c in range(K * K):
            M[c] = 0.0
        trss = 0.0
        vd = 0.0
        for i in range(k):
            for j in range(n[i]):
                cj = cell[i, j]
                wj = 1.0 / nrun[run[i, j]]
                if trt[i, j] < 0.5:
                    wj = -wj
                diag = 0.0
                for l in range(n[i]):
                    v = rho + (1.0 - rho) * pw[abs(times[i, j] - times[i, l])]
                    wl = 1.0 / nrun[run[i, l]]
                    if trt[i, l] < 0.5:
                        wl = -wl
                    vd += wj * wl * v
                    if cj >= 0 and cell[i, l] >= 0:
                        diag += v * v
                        M[cj * K + cell[i, l]] += v
                if cj >= 0:
                    trss += (1.0 - 2.0 / ncell[cj]) * diag
        _hps_finish(out, s, M, ncell, trss, (K * (k - 1.0)) ** 2, vd / (npts * npts), delta_u, dbar, S2, phi, s2w,
                    rho)


_hps_abk = kernel(_hps_abk_python)
