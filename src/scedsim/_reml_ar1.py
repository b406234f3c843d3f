"""REML fit of a random-intercept model with AR(1) errors within each case.

    y_ij = b0 + b1 D_ij + u_i + e_ij,   u_i ~ N(0, tau^2),
    Cov(e_ij, e_il) = sigma^2 phi^|t_ij - t_il|

(``nlme::lme(y ~ D, random = ~1 | case, correlation = corAR1(form = ~ time | case),
method = "REML")``), and the design-comparable SMD of Pustejovsky, Hedges &
Shadish (2014) computed from it.

Powers are ``math.pow`` with a float exponent, so that kernel and twin agree to
the bit (numba computes ``x ** int`` by repeated multiplication).

Layout as in :mod:`scedsim._hps`: ``Y[set, case, j]`` padded, ``n[case]`` points,
integer ``times`` increasing within a case, ``trt`` 1.0/0.0.

Why it is fast: the AR(1) correlation of a case, even with gaps in its sessions,
is a Markov chain, so ``a' R^-1 b`` is a sum over consecutive points (no matrix),
and with W = lambda*J + R (lambda = tau^2 / sigma^2) Sherman-Morrison gives
``a' W^-1 b`` and ``log|W|`` from the ``R^-1`` forms of the vectors 1, D, y.  For a
fixed phi those six forms per case are computed once; the profile over lambda
then costs O(cases) per evaluation.  The REML criterion is maximised over
lambda for each phi (grid on log lambda, then Brent; during the Brent search
over phi, Brent near the previous lambda, with the grid as fallback) and over
atanh(phi) (grid, then Brent).  The expected information is computed once, at the
optimum, with dense per-case blocks.
"""
from __future__ import annotations

import math

from ._brent import GOLD, brent_next, brent_state, brent_update
from ._hps import _g_var
from ._numba import kernel

#: Output rows of :func:`_reml_bcsmd`.
REML_FIELDS = ("estimate", "se", "nu", "delta", "beta0", "beta1", "phi", "tau2", "sigma2", "kappa", "J",
               "loglik", "lambda")

_LOG2PI = math.log(2.0 * math.pi)
# Grids of the profile searches: log(lambda) and atanh(phi).
_U_LO, _U_HI, _U_STEP = -9.0, 9.0, 1.5
_Z_LO, _Z_HI, _Z_STEP = -3.0, 3.0, 0.5
_Z_MAX = 7.0   # |phi| < 1 - 1.6e-6: beyond, R's corAR1 fails too


def _forms_python(y, times, trt, n, phi, q):
    """q[6i..6i+5] = 1'R^-1 1, 1'R^-1 D, 1'R^-1 y, D'R^-1 D, D'R^-1 y, y'R^-1 y of case i;
    returns sum_i log|R_i|.  R_i(phi) = phi^|t - s|, a Markov chain over the case's points."""
    k = n.shape[0]
    ld = 0.0
    for i in range(k):
        # First point: unit variance; then innovations (x_j - r x_{j-1}) / sqrt(1 - r^2).
        w1 = 1.0
        wd = trt[i, 0]
        wy = y[i, 0]
        s11 = w1 * w1
        s1d = w1 * wd
        s1y = w1 * wy
        sdd = wd * wd
        sdy = wd * wy
        syy = wy * wy
        for j in range(1, n[i]):
            gap = times[i, j] - times[i, j - 1]
            r = phi if gap == 1 else math.pow(phi, float(gap))  # consecutive sessions: no pow
            v = 1.0 - r * r
            ld += math.log(v)
            sc = 1.0 / math.sqrt(v)
            w1 = (1.0 - r) * sc
            wd = (trt[i, j] - r * trt[i, j - 1]) * sc
            wy = (y[i, j] - r * y[i, j - 1]) * sc
            s11 += w1 * w1
            s1d += w1 * wd
            s1y += w1 * wy
            sdd += wd * wd
            sdy += wd * wy
            syy += wy * wy
        q[6 * i] = s11
        q[6 * i + 1] = s1d
        q[6 * i + 2] = s1y
        q[6 * i + 3] = sdd
        q[6 * i + 4] = sdy
        q[6 * i + 5] = syy
    return ld


_forms = kernel(_forms_python)


def _lam_crit_python(lam, q, k, g, ldr, G):
    """-2 x profile REML log-likelihood (up to a constant) at lambda, from the forms ``q``;
    G[0..5] gets 1'W^-1 1, 1'W^-1 D, 1'W^-1 y, D'W^-1 D, D'W^-1 y, y'W^-1 y."""
    for a in range(6):
        G[a] = 0.0
    ld = ldr
    # log|W| = log|R| + sum_i log(1 + lam s11_i): one log of a running product (rescaled
    # before it can overflow) instead of one per case.
    prod = 1.0
    for i in range(k):
        s11 = q[6 * i]
        s1d = q[6 * i + 1]
        s1y = q[6 * i + 2]
        c = lam / (1.0 + lam * s11)
        prod *= 1.0 + lam * s11
        if prod > 1e150:
            ld += math.log(prod)
            prod = 1.0
        G[0] += s11 - c * s11 * s11
        G[1] += s1d - c * s11 * s1d
        G[2] += s1y - c * s11 * s1y
        G[3] += q[6 * i + 3] - c * s1d * s1d
        G[4] += q[6 * i + 4] - c * s1d * s1y
        G[5] += q[6 * i + 5] - c * s1y * s1y
    ld += math.log(prod)
    det = G[0] * G[3] - G[1] * G[1]
    rss = G[5] - (G[3] * G[2] * G[2] - 2.0 * G[1] * G[2] * G[4] + G[0] * G[4] * G[4]) / det
    if not (det > 0.0 and rss > 0.0):
        return math.inf
    return (g - 2.0) * math.log(rss) + ld + math.log(det)


_lam_crit = kernel(_lam_crit_python)


def _brent_lam_python(lo, hi, linear, q, k, g, ldr, G):
    """Minimise _lam_crit over lambda (``linear``) or log(lambda) in [lo, hi] (Brent 1973);
    returns the argument (on its scale)."""
    x = lo + GOLD * (hi - lo)
    fx = _lam_crit(x if linear else math.exp(x), q, k, g, ldr, G)
    s = brent_state(lo, hi, x, fx, x, fx, x, fx, 0.0)
    for _ in range(200):
        s, u, done = brent_next(s, 1.5e-8, 1e-12)
        if done:
            break
        s = brent_update(s, u, _lam_crit(u if linear else math.exp(u), q, k, g, ldr, G))
    return s[2]


_brent_lam = kernel(_brent_lam_python)


def _best_lam_python(q, k, g, ldr, G):
    """The lambda >= 0 that minimises _lam_crit: grid on log(lambda) (and lambda = 0), then Brent."""
    best = _lam_crit(0.0, q, k, g, ldr, G)
    ub = -math.inf
    u = _U_LO
    while u <= _U_HI + 1e-9:
        f = _lam_crit(math.exp(u), q, k, g, ldr, G)
        if f < best:
            best = f
            ub = u
        u += _U_STEP
    if ub <= _U_LO + 1e-9:
        # Near the boundary: search lambda itself, so that 0 can be reached.
        lam = _brent_lam(0.0, math.exp(_U_LO + _U_STEP), True, q, k, g, ldr, G)
    else:
        hi = ub + _U_STEP if ub < _U_HI - 1e-9 else ub + 4.0 * _U_STEP
        lam = math.exp(_brent_lam(ub - _U_STEP, hi, False, q, k, g, ldr, G))
    return lam


_best_lam = kernel(_best_lam_python)


def _phi_crit_python(z, y, times, trt, n, g, q, G, lam_out, warm):
    """Profile criterion at phi = tanh(z), minimised over lambda; lam_out[0] gets lambda.

    ``warm``: start from the lambda in lam_out[0] (Brent within a factor e of it) and
    fall back to the full search when the optimum leaves that bracket or lies near 0.
    """
    ldr = _forms(y, times, trt, n, math.tanh(z), q)
    k = n.shape[0]
    lam = -1.0
    if warm and lam_out[0] > math.exp(_U_LO + _U_STEP):
        u0 = math.log(lam_out[0])
        u = _brent_lam(u0 - 1.0, u0 + 1.0, False, q, k, g, ldr, G)
        if abs(u - u0) < 0.999:
            lam = math.exp(u)
    if lam < 0.0:
        lam = _best_lam(q, k, g, ldr, G)
    lam_out[0] = lam
    return _lam_crit(lam, q, n.shape[0], g, ldr, G)


_phi_crit = kernel(_phi_crit_python)


def _brent_phi_python(lo, hi, y, times, trt, n, g, q, G, lam_out):
    """Minimise _phi_crit over z = atanh(phi) in [lo, hi] (Brent 1973); returns z."""
    x = lo + GOLD * (hi - lo)
    fx = _phi_crit(x, y, times, trt, n, g, q, G, lam_out, True)
    s = brent_state(lo, hi, x, fx, x, fx, x, fx, 0.0)
    for _ in range(200):
        s, u, done = brent_next(s, 1.5e-8, 1e-12)
        if done:
            break
        s = brent_update(s, u, _phi_crit(u, y, times, trt, n, g, q, G, lam_out, True))
    return s[2]


_brent_phi = kernel(_brent_phi_python)


def _reml_loglik_python(y, times, trt, n, lam, phi, work):
    """REML log-likelihood (nlme's constant) at (lambda, phi), sigma^2 profiled out.
    ``work`` needs 6 * cases + 6 floats."""
    k = n.shape[0]
    g = 0
    for i in range(k):
        g += n[i]
    q = work[0:6 * k]
    G = work[6 * k:6 * k + 6]
    ldr = _forms(y, times, trt, n, phi, q)
    crit = _lam_crit(lam, q, k, g, ldr, G)
    det = G[0] * G[3] - G[1] * G[1]
    rss = G[5] - (G[3] * G[2] * G[2] - 2.0 * G[1] * G[2] * G[4] + G[0] * G[4] * G[4]) / det
    # crit = (g-2) log rss + log|W| + log|X'W^-1X|.
    return -0.5 * (crit - (g - 2.0) * math.log(rss)) - 0.5 * (g - 2.0) * (
        _LOG2PI + math.log(rss / (g - 2.0)) + 1.0)


_reml_loglik = kernel(_reml_loglik_python)


def _work_size(k, T):
    """Floats of ``work`` that :func:`_reml_bcsmd` needs for k cases of at most T points."""
    return 6 * k + 8 + 7 * T * T + 12 * T


def _reml_bcsmd_python(Y, times, trt, n, work, out):
    """out[:, s] = the REML fields (``REML_FIELDS``) of set ``Y[s]``; ``work``: _work_size floats."""
    n_sets, k, T = Y.shape[0], Y.shape[1], Y.shape[2]
    g = 0
    for i in range(k):
        g += n[i]
    q = work[0:6 * k]
    G = work[6 * k:6 * k + 6]
    lam_out = work[6 * k + 6:6 * k + 8]
    o = 6 * k + 8
    TT = T * T
    Rm = work[o:o + TT]
    dR = work[o + TT:o + 2 * TT]
    Wi = work[o + 2 * TT:o + 3 * TT]
    C = work[o + 3 * TT:o + 6 * TT]
    Rinv1 = work[o + 6 * TT:o + 6 * TT + T]
    U = work[o + 6 * TT + T:o + 6 * TT + 3 * T]
    CU = work[o + 6 * TT + 3 * T:o + 6 * TT + 9 * T]
    AU = work[o + 6 * TT + 9 * T:o + 6 * TT + 15 * T]
    for s in range(n_sets):
        y = Y[s]
        if _no_residual(y, trt, n):
            for f in range(out.shape[0]):
                out[f, s] = math.nan
            continue
        # Profile over atanh(phi): grid, then Brent around the best grid point.
        best = math.inf
        zb = 0.0
        z = _Z_LO
        while z <= _Z_HI + 1e-9:
            f = _phi_crit(z, y, times, trt, n, g, q, G, lam_out, False)
            if f < best:
                best = f
                zb = z
            z += _Z_STEP
        lo = zb - _Z_STEP if zb > _Z_LO + 1e-9 else -_Z_MAX
        hi = zb + _Z_STEP if zb < _Z_HI - 1e-9 else _Z_MAX
        zh = _brent_phi(lo, hi, y, times, trt, n, g, q, G, lam_out)
        fz = _phi_crit(zh, y, times, trt, n, g, q, G, lam_out, False)
        if fz > best:  # the grid point was better (a flat or rough profile)
            zh = zb
            fz = _phi_crit(zh, y, times, trt, n, g, q, G, lam_out, False)
        phi = math.tanh(zh)
        lam = lam_out[0]
        # GLS at the optimum (G holds the W^-1 forms at (lam, phi)).
        det = G[0] * G[3] - G[1] * G[1]
        b1 = (G[0] * G[4] - G[1] * G[2]) / det
        b0 = (G[3] * G[2] - G[1] * G[4]) / det
        rss = G[5] - (G[3] * G[2] * G[2] - 2.0 * G[1] * G[2] * G[4] + G[0] * G[4] * G[4]) / det
        s2 = rss / (g - 2.0)
        tau2 = lam * s2
        tot = tau2 + s2
        delta = b1 / math.sqrt(tot)
        kappa2 = s2 * G[0] / det / tot   # [(X'V^-1X)^-1]_22 / (tau^2 + sigma^2)
        loglik = -0.5 * fz + 0.5 * (g - 2.0) * math.log(rss) - 0.5 * (g - 2.0) * (
            _LOG2PI + math.log(s2) + 1.0)
        # Expected information over (tau^2, phi, sigma^2):
        # I_ab = 1/2 tr(P A_a P A_b), P = Vi - U M U', U = Vi X, M = (X'Vi X)^-1, so
        # tr(P A P B) = tr(Vi A Vi B) - 2 tr(M U'A Vi B U) + tr(M U'AU M U'BU), by case blocks.
        i00 = i01 = i02 = i11 = i12 = i22 = 0.0
        x00 = x01 = x11 = 0.0
        # First pass: M = (X'Vi X)^-1, needed in the second.
        for i in range(k):
            ni = n[i]
            _case_winv(times, trt, n, i, phi, lam, Rinv1, Wi, T)
            for j in range(ni):
                for l in range(ni):
                    w = Wi[j * T + l] / s2
                    dj = trt[i, j]
                    dl = trt[i, l]
                    x00 += w
                    x01 += w * dl
                    x11 += dj * w * dl
        dx = x00 * x11 - x01 * x01
        M00 = x11 / dx
        M01 = -x01 / dx
        M11 = x00 / dx
        # Second pass; S_a = sum_i U_i'A_a U_i (2x2, symmetric) summed over cases.
        sa00 = sa01 = sa11 = sb00 = sb01 = sb11 = sc00 = sc01 = sc11 = 0.0
        t2 = 0.0
        for i in range(k):
            ni = n[i]
            _case_winv(times, trt, n, i, phi, lam, Rinv1, Wi, T)
            for j in range(ni):
                for l in range(ni):
                    lag = abs(times[i, j] - times[i, l])
                    Rm[j * T + l] = math.pow(phi, float(lag))
                    dR[j * T + l] = s2 * lag * math.pow(phi, float(lag - 1)) if lag > 0 else 0.0
            # U = Vi X; C_a = Vi A_a (A_1 = J, A_2 = sigma^2 dR/dphi, A_3 = R).
            for j in range(ni):
                u0 = 0.0
                u1 = 0.0
                for l in range(ni):
                    w = Wi[j * T + l] / s2
                    u0 += w
                    u1 += w * trt[i, l]
                U[2 * j] = u0
                U[2 * j + 1] = u1
            for j in range(ni):
                rowsum = 0.0
                for l in range(ni):
                    rowsum += Wi[j * T + l]
                for l in range(ni):
                    c2 = 0.0
                    c3 = 0.0
                    for m in range(ni):
                        w = Wi[j * T + m]
                        c2 += w * dR[m * T + l]
                        c3 += w * Rm[m * T + l]
                    C[j * T + l] = rowsum / s2
                    C[TT + j * T + l] = c2 / s2
                    C[2 * TT + j * T + l] = c3 / s2
            # tr(C_a C_b)
            for j in range(ni):
                for l in range(ni):
                    a1 = C[j * T + l]
                    a2 = C[TT + j * T + l]
                    a3 = C[2 * TT + j * T + l]
                    b1_ = C[l * T + j]
                    b2_ = C[TT + l * T + j]
                    b3_ = C[2 * TT + l * T + j]
                    i00 += a1 * b1_
                    i01 += a1 * b2_
                    i02 += a1 * b3_
                    i11 += a2 * b2_
                    i12 += a2 * b3_
                    i22 += a3 * b3_
            # C_a U and A_a U (n x 2 each, a = 0..2).
            for a in range(3):
                for j in range(ni):
                    cu0 = 0.0
                    cu1 = 0.0
                    au0 = 0.0
                    au1 = 0.0
                    for l in range(ni):
                        ca = C[a * TT + j * T + l]
                        if a == 0:
                            aa = 1.0
                        elif a == 1:
                            aa = dR[j * T + l]
                        else:
                            aa = Rm[j * T + l]
                        cu0 += ca * U[2 * l]
                        cu1 += ca * U[2 * l + 1]
                        au0 += aa * U[2 * l]
                        au1 += aa * U[2 * l + 1]
                    CU[a * 2 * T + 2 * j] = cu0
                    CU[a * 2 * T + 2 * j + 1] = cu1
                    AU[a * 2 * T + 2 * j] = au0
                    AU[a * 2 * T + 2 * j + 1] = au1
            # -2 tr(M (C_a U)'(A_b U)) for the six pairs, and S_a = U'(A_a U).
            for a in range(3):
                for b in range(a, 3):
                    p00 = p01 = p10 = p11 = 0.0
                    for j in range(ni):
                        ca0 = CU[a * 2 * T + 2 * j]
                        ca1 = CU[a * 2 * T + 2 * j + 1]
                        ab0 = AU[b * 2 * T + 2 * j]
                        ab1 = AU[b * 2 * T + 2 * j + 1]
                        p00 += ca0 * ab0
                        p01 += ca0 * ab1
                        p10 += ca1 * ab0
                        p11 += ca1 * ab1
                    t2 = M00 * p00 + M01 * (p01 + p10) + M11 * p11
                    if a == 0 and b == 0:
                        i00 -= 2.0 * t2
                    elif a == 0 and b == 1:
                        i01 -= 2.0 * t2
                    elif a == 0:
                        i02 -= 2.0 * t2
                    elif b == 1:
                        i11 -= 2.0 * t2
                    elif a == 1:
                        i12 -= 2.0 * t2
                    else:
                        i22 -= 2.0 * t2
            for j in range(ni):
                u0 = U[2 * j]
                u1 = U[2 * j + 1]
                sa00 += u0 * AU[2 * j]
                sa01 += u0 * AU[2 * j + 1]
                sa11 += u1 * AU[2 * j + 1]
                sb00 += u0 * AU[2 * T + 2 * j]
                sb01 += u0 * AU[2 * T + 2 * j + 1]
                sb11 += u1 * AU[2 * T + 2 * j + 1]
                sc00 += u0 * AU[4 * T + 2 * j]
                sc01 += u0 * AU[4 * T + 2 * j + 1]
                sc11 += u1 * AU[4 * T + 2 * j + 1]
        # + tr(M S_a M S_b): with N_a = M S_a, tr(N_a N_b).
        na00 = M00 * sa00 + M01 * sa01
        na01 = M00 * sa01 + M01 * sa11
        na10 = M01 * sa00 + M11 * sa01
        na11 = M01 * sa01 + M11 * sa11
        nb00 = M00 * sb00 + M01 * sb01
        nb01 = M00 * sb01 + M01 * sb11
        nb10 = M01 * sb00 + M11 * sb01
        nb11 = M01 * sb01 + M11 * sb11
        nc00 = M00 * sc00 + M01 * sc01
        nc01 = M00 * sc01 + M01 * sc11
        nc10 = M01 * sc00 + M11 * sc01
        nc11 = M01 * sc01 + M11 * sc11
        i00 += na00 * na00 + 2.0 * na01 * na10 + na11 * na11
        i01 += na00 * nb00 + na01 * nb10 + na10 * nb01 + na11 * nb11
        i02 += na00 * nc00 + na01 * nc10 + na10 * nc01 + na11 * nc11
        i11 += nb00 * nb00 + 2.0 * nb01 * nb10 + nb11 * nb11
        i12 += nb00 * nc00 + nb01 * nc10 + nb10 * nc01 + nb11 * nc11
        i22 += nc00 * nc00 + 2.0 * nc01 * nc10 + nc11 * nc11
        i00 *= 0.5
        i01 *= 0.5
        i02 *= 0.5
        i11 *= 0.5
        i12 *= 0.5
        i22 *= 0.5
        # r' I^-1 r with r = (1, 0, 1), by cofactors of the symmetric 3x3 I.
        c00 = i11 * i22 - i12 * i12
        c01 = -(i01 * i22 - i12 * i02)
        c02 = i01 * i12 - i11 * i02
        c22 = i00 * i11 - i01 * i01
        det3 = i00 * c00 + i01 * c01 + i02 * c02
        rir = (c00 + 2.0 * c02 + c22) / det3
        nu = 2.0 * tot * tot / rir
        J, est, var = _g_var(delta, kappa2, nu, True)
        out[0, s] = est
        out[1, s] = math.sqrt(var) if var >= 0.0 else math.nan
        out[2, s] = nu
        out[3, s] = delta
        out[4, s] = b0
        out[5, s] = b1
        out[6, s] = phi
        out[7, s] = tau2
        out[8, s] = s2
        out[9, s] = math.sqrt(kappa2)
        out[10, s] = J
        out[11, s] = loglik
        out[12, s] = lam


def _no_residual_python(y, trt, n):
    """True when case intercepts and one treatment effect fit y (almost) exactly: sigma^2
    would be 0 (REML runs lambda to infinity), so there is nothing to standardise by."""
    k = n.shape[0]
    tot = 0.0
    cnt = 0
    for i in range(k):
        for j in range(n[i]):
            tot += y[i, j]
            cnt += 1
    grand = tot / cnt
    sst = 0.0
    syy = 0.0
    sdy = 0.0
    sdd = 0.0
    for i in range(k):
        my = 0.0
        md = 0.0
        for j in range(n[i]):
            my += y[i, j]
            md += trt[i, j]
        my /= n[i]
        md /= n[i]
        for j in range(n[i]):
            e = y[i, j] - my
            dd = trt[i, j] - md
            syy += e * e
            sdy += dd * e
            sdd += dd * dd
            c = y[i, j] - grand
            sst += c * c
    rss = syy - sdy * sdy / sdd if sdd > 0.0 else syy
    return not (rss > 1e-14 * sst)


_no_residual = kernel(_no_residual_python)


def _case_winv_python(times, trt, n, i, phi, lam, Rinv1, Wi, T):
    """Wi[j*T + l] = (lambda J + R_i(phi))^-1 of case i, dense, from R^-1 (tridiagonal for a
    Markov chain) and Sherman-Morrison."""
    ni = n[i]
    for j in range(ni):
        for l in range(ni):
            Wi[j * T + l] = 0.0
    for j in range(ni):
        d = 1.0
        if j > 0:
            r = math.pow(phi, float(times[i, j] - times[i, j - 1]))
            d = 1.0 / (1.0 - r * r)
        if j < ni - 1:
            r = math.pow(phi, float(times[i, j + 1] - times[i, j]))
            v = 1.0 - r * r
            d += r * r / v
            Wi[j * T + j + 1] = -r / v
            Wi[(j + 1) * T + j] = -r / v
        Wi[j * T + j] = d
    s = 0.0
    for j in range(ni):
        acc = 0.0
        for l in range(ni):
            acc += Wi[j * T + l]
        Rinv1[j] = acc
        s += acc
    c = lam / (1.0 + lam * s)
    for j in range(ni):
        for l in range(ni):
            Wi[j * T + l] -= c * Rinv1[j] * Rinv1[l]


_case_winv = kernel(_case_winv_python)
_reml_bcsmd = kernel(_reml_bcsmd_python)
