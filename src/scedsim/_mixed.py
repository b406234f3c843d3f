"""Private linear mixed-model core for :func:`scedsim.hplm`: one grouping level,
fixed effects X (p columns), random effects on a subset Z of X's columns, and
within-group errors that are independent or AR(1) in session.

Model per group i: y_i = X_i b + Z_i u_i + e_i, u_i ~ N(0, s2 * L L'),
e_i ~ N(0, s2 * R_i), R_i = phi^|t_j - t_l|.  With W_i = R_i + Z_i L L' Z_i',
everything below needs only the whitened cross products
C_i = [X_i y_i]' R_i^-1 [X_i y_i] (p+1 square), because Z's columns are columns
of X:  W^-1 = R^-1 - R^-1 Z L (I + L'Z'R^-1 Z L)^-1 L'Z'R^-1 and
|W| = |R| |I + L'Z'R^-1 Z L| (Woodbury and Sylvester; L may be singular, so
the zero-variance boundary needs no special case).  b and s2 are profiled out.

The kernels are pure and allocation-free: the caller passes every work array.
"""
from __future__ import annotations

import math

import numpy as np

from ._brent import GOLD, brent_next, brent_state, brent_update
from ._numba import kernel

P = 4           # fixed effects: intercept, trend, level, slope
NC = P + 1      # cross-product size: X's columns and y
LOG2PI = math.log(2.0 * math.pi)


@kernel
def crossprods(xy, off, t, phi, C, logdet_r):
    """Whitened cross products C[i] = [X y]' R_i(phi)^-1 [X y] and log|R_i| per group.

    Sessions are integers; the AR(1) process seen at sessions t_1 < t_2 < ... is
    Markov with coefficient a_j = phi^(t_j - t_{j-1}), so whitening is
    O(n): row 1 as is, row j as (x_j - a_j x_{j-1}) / sqrt(1 - a_j^2).
    """
    k = off.shape[0] - 1
    nc = xy.shape[1]
    for i in range(k):
        for r in range(nc):
            for c in range(nc):
                C[i, r, c] = 0.0
        ld = 0.0
        for j in range(off[i], off[i + 1]):
            if phi == 0.0 or j == off[i]:
                a, s = 0.0, 1.0
            else:
                a = phi ** (t[j] - t[j - 1])
                v = 1.0 - a * a
                ld += math.log(v)
                s = 1.0 / math.sqrt(v)
            for r in range(nc):
                wr = (xy[j, r] - (a * xy[j - 1, r] if a != 0.0 else 0.0)) * s
                for c in range(r + 1):
                    wc = (xy[j, c] - (a * xy[j - 1, c] if a != 0.0 else 0.0)) * s
                    C[i, r, c] += wr * wc
        for r in range(nc):
            for c in range(r):
                C[i, c, r] = C[i, r, c]
        logdet_r[i] = ld


@kernel
def chol(A, n, K):
    """Lower Cholesky factor of A[:n, :n] into K; returns log|A| (-inf if not positive definite)."""
    ld = 0.0
    for j in range(n):
        s = A[j, j]
        for m in range(j):
            s -= K[j, m] * K[j, m]
        if not s > 0.0:
            return -np.inf
        d = math.sqrt(s)
        K[j, j] = d
        ld += 2.0 * math.log(d)
        for i in range(j + 1, n):
            s = A[i, j]
            for m in range(j):
                s -= K[i, m] * K[j, m]
            K[i, j] = s / d
        for i in range(j):
            K[i, j] = 0.0
    return ld


@kernel
def accumulate(C, logdet_r, zc, L, S, M, U, K):
    """S = sum_i [X y]' W_i^-1 [X y]; returns sum_i log|W_i| (-inf if some I + L'AL fails).

    zc: columns of X that carry random effects (q of them); L: q x q lower factor
    of G / s2.  M, U, K: work arrays (q x q, q x NC, q x q).
    """
    k, nc, q = C.shape[0], C.shape[1], zc.shape[0]
    for r in range(nc):
        for c in range(nc):
            S[r, c] = 0.0
    total = 0.0
    for i in range(k):
        # U = L' Z'R^-1 [X y];  M = I + U[:, zc] L
        for a in range(q):
            for c in range(nc):
                s = 0.0
                for b in range(a, q):
                    s += L[b, a] * C[i, zc[b], c]
                U[a, c] = s
        for a in range(q):
            for b in range(q):
                s = 1.0 if a == b else 0.0
                for m in range(b, q):
                    s += U[a, zc[m]] * L[m, b]
                M[a, b] = s
        ld = chol(M, q, K)
        if ld == -np.inf:
            return -np.inf
        total += ld + logdet_r[i]
        # V = K^-1 U in place; S += C_i - V'V
        for c in range(nc):
            for a in range(q):
                s = U[a, c]
                for m in range(a):
                    s -= K[a, m] * U[m, c]
                U[a, c] = s / K[a, a]
        for r in range(nc):
            for c in range(nc):
                s = C[i, r, c]
                for a in range(q):
                    s -= U[a, r] * U[a, c]
                S[r, c] += s
    return total


@kernel
def gls(S, K, beta):
    """beta = S_xx^-1 S_xy into beta (K: Cholesky of S_xx); returns (RSS, log|S_xx|)."""
    p = S.shape[0] - 1
    ld = chol(S, p, K)
    if ld == -np.inf:
        return np.nan, ld
    for a in range(p):
        s = S[a, p]
        for m in range(a):
            s -= K[a, m] * beta[m]
        beta[a] = s / K[a, a]
    for a in range(p - 1, -1, -1):
        s = beta[a]
        for m in range(a + 1, p):
            s -= K[m, a] * beta[m]
        beta[a] = s / K[a, a]
    rss = S[p, p]
    for a in range(p):
        rss -= S[a, p] * beta[a]
    if rss <= 1e-10 * S[p, p]:
        # A perfect fit, or one lost in round-off (y is centred first): no likelihood.
        return np.nan, ld
    return rss, ld


@kernel
def loglik(rss, logdet_w, logdet_x, n, p, reml):
    """nlme's ML or REML log-likelihood with beta and s2 profiled out."""
    if not rss > 0.0 or logdet_w == -np.inf or logdet_x == -np.inf:
        return -np.inf
    if reml:
        m = n - p
        return -0.5 * m * (LOG2PI + math.log(rss / m) + 1.0) - 0.5 * logdet_w - 0.5 * logdet_x
    return -0.5 * n * (LOG2PI + math.log(rss / n) + 1.0) - 0.5 * logdet_w


@kernel
def profile(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Profiled log-likelihood at (L, whitened C); beta, S and KX hold the GLS pieces."""
    ldw = accumulate(C, logdet_r, zc, L, S, M, U, K)
    if ldw == -np.inf:
        return -np.inf
    rss, ldx = gls(S, KX, beta)
    return loglik(rss, ldw, ldx, n, S.shape[0] - 1, reml)


@kernel
def _ll_lam(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    L[0, 0] = math.sqrt(lam)
    return profile(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)


@kernel
def _brent_lam(a, b, in_log, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Brent's minimisation of -loglik over x in [a, b]; lam = exp(x) or x.  Returns (x, ll)."""
    x = a + GOLD * (b - a)
    fx = -_ll_lam(math.exp(x) if in_log else x, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    s = brent_state(a, b, x, fx, x, fx, x, fx, 0.0)
    for _ in range(200):
        s, u, done = brent_next(s, 1.5e-8, 1e-11)
        if done:
            break
        s = brent_update(s, u, -_ll_lam(math.exp(u) if in_log else u, C, logdet_r, zc, L, n, reml, S, M, U, K, KX,
                                        beta))
    return s[2], -s[5]


@kernel
def _dll_dtheta(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Random intercept: (ll, d ll / d log lam) at lam > 0 (beta and s2 profiled out, so
    only the explicit dependence counts).  With a_i = 1'R^-1 1, M_i = 1 + lam a_i and
    u_i = 1'R^-1 r_i:  d RSS / d lam = -sum u_i^2 / M_i^2,  d log|W_i| / d lam = a_i / M_i,
    and for REML d log|X'W^-1 X| / d lam = -sum v_i' (X'W^-1 X)^-1 v_i / M_i^2, v_i = X'R^-1 1."""
    ll = _ll_lam(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    if not ll > -np.inf:
        return ll, np.nan
    p = KX.shape[0]
    rss = S[p, p]
    for c in range(p):
        rss -= S[c, p] * beta[c]
    t1 = t2 = t3 = 0.0
    for i in range(C.shape[0]):
        a = C[i, 0, 0]
        m = 1.0 + lam * a
        u = C[i, 0, p]
        for c in range(p):
            u -= C[i, 0, c] * beta[c]
        t1 += u * u / (m * m)
        t2 += a / m
        if reml:
            # |K^-1 v|^2 by forward substitution, in U's first row (free after the fit)
            ss = 0.0
            for r in range(p):
                w = C[i, 0, r]
                for c in range(r):
                    w -= KX[r, c] * U[0, c]
                w /= KX[r, r]
                U[0, r] = w
                ss += w * w
            t3 += ss / (m * m)
    nn = n - p if reml else n
    g = 0.5 * nn * t1 / rss - 0.5 * t2 + (0.5 * t3 if reml else 0.0)
    return ll, lam * g


@kernel
def _polish(lam, ll, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Secant steps on d ll / d log lam = 0 from Brent's answer: Brent stops where ll is
    flat to round-off (~1e-8 in log lam); the root of the derivative is found to ~1e-15.
    Kept only if ll does not drop beyond round-off and the derivative shrinks."""
    x0 = math.log(lam)
    f0, g0 = _dll_dtheta(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    if not (g0 == g0):
        return lam, ll
    x1 = x0 + 1e-6
    f1, g1 = _dll_dtheta(math.exp(x1), C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    for _ in range(20):
        if not (g1 == g1) or g1 == g0:
            break
        x2 = x1 - g1 * (x1 - x0) / (g1 - g0)
        if abs(x2 - x1) > 0.1:   # not the local root: leave Brent's answer
            break
        x0, g0 = x1, g1
        x1 = x2
        f1, g1 = _dll_dtheta(math.exp(x1), C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        if abs(x1 - x0) <= 1e-15 * max(1.0, abs(x1)):
            break
    if f1 >= ll - 1e-12 * abs(ll) and abs(g1) <= abs(_dll_dtheta(lam, C, logdet_r, zc, L, n, reml, S, M, U, K,
                                                                   KX, beta)[1]):
        return math.exp(x1), f1
    return lam, ll


LO, HI, STEP = -14.0, 10.0, 1.0   # grid of log(tau^2 / s2)


@kernel
def max_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Random intercept: the maximum over lam = tau^2 / s2 >= 0 (:func:`search_lambda`),
    polished by secant steps on the derivative.  Returns (lam, ll); L, S, beta are left
    at the returned lam."""
    lam, ll = search_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    if lam > 0.0:
        lam, ll = _polish(lam, ll, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        ll = _ll_lam(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    return lam, ll


@kernel
def search_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Random intercept: maximise the profiled log-likelihood over lam = tau^2 / s2 >= 0.

    A grid in log lam, then Brent around the best point; near the lower end the
    search runs in lam itself on [0, ...], so that the boundary lam = 0 is a
    candidate (it is compared exactly).  Returns (lam, ll); L, S, beta are left
    at the returned lam.
    """
    ll0 = _ll_lam(0.0, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    ng = int((HI - LO) / STEP) + 1
    best, bj = -np.inf, -1
    for j in range(ng):
        v = _ll_lam(math.exp(LO + j * STEP), C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        if v > best:
            best, bj = v, j
    if bj < 0 and not ll0 > -np.inf:
        return np.nan, -np.inf
    if bj <= 1 or ll0 >= best:
        x, ll = _brent_lam(0.0, math.exp(LO + 2 * STEP), False, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        lam = x
    else:
        hi = LO + min(bj + 1, ng - 1) * STEP
        x, ll = _brent_lam(LO + (bj - 1) * STEP, hi, True, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        lam = math.exp(x)
    if ll0 >= ll:
        lam, ll = 0.0, ll0
    if best > ll:
        lam, ll = math.exp(LO + bj * STEP), best
    ll = _ll_lam(lam, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    return lam, ll


@kernel
def _ll_phi(z, polish, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """(lam, ll) at z = atanh(phi), the inner maximum polished or not."""
    crossprods(xy, off, t, math.tanh(z), C, logdet_r)
    if polish:
        return max_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    return search_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)


@kernel
def _ll_phi_near(z, lam0, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """(lam, ll) at z = atanh(phi), the inner search started from lam0, the optimum at a
    nearby phi: Brent in log lam on log lam0 +- 2, or the full search when lam0 = 0 or
    the answer lands on the bracket's edge.  (The final phi gets the full search.)"""
    crossprods(xy, off, t, math.tanh(z), C, logdet_r)
    if lam0 > 0.0:
        c = math.log(lam0)
        x, ll = _brent_lam(c - 2.0, c + 2.0, True, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        if abs(x - c) < 1.99 and ll > -np.inf:
            return math.exp(x), ll
    return search_lambda(C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)


ZLO, ZHI, ZSTEP = -5.0, 5.0, 0.5   # grid of atanh(phi)


@kernel
def max_phi_lambda(xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta):
    """Random intercept + AR(1): the outer 1-D search over z = atanh(phi) (grid, then
    Brent), the inner one over lam.  Returns (phi, lam, ll), work arrays at them."""
    ng = int((ZHI - ZLO) / ZSTEP) + 1
    best, bj, lam_best = -np.inf, -1, 0.0
    for j in range(ng):
        lv, v = _ll_phi(ZLO + j * ZSTEP, False, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        if v > best:
            best, bj, lam_best = v, j, lv
    if bj < 0:
        return np.nan, np.nan, -np.inf
    a = ZLO + max(bj - 1, 0) * ZSTEP
    b = ZLO + min(bj + 1, ng - 1) * ZSTEP
    # Brent over z (objective -_ll_phi), carrying the lambda of the best point.
    x = a + GOLD * (b - a)
    lam_x, fx = _ll_phi_near(x, lam_best, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    fx = -fx
    s = brent_state(a, b, x, fx, x, fx, x, fx, 0.0)
    for _ in range(200):
        s, u, done = brent_next(s, 1.5e-8, 1e-10)
        if done:
            break
        lam_u, fu = _ll_phi_near(u, lam_x, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
        s = brent_update(s, u, -fu)
        if s[2] == u:
            lam_x = lam_u
    x, fx = s[2], s[5]
    z = x
    if best > -fx:
        z = ZLO + bj * ZSTEP
    # Brent stops where ll(z) is flat to round-off (~1e-7 in z); parabolas through
    # z -+ 1e-4 on the polished profile put the vertex within ~1e-9.  Kept only if ll
    # does not drop beyond round-off.
    fz = _ll_phi(z, True, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)[1]
    h = 1e-4
    for _ in range(2):
        if abs(z) > ZHI - 10 * h:
            break
        fp = _ll_phi(z + h, True, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)[1]
        fm = _ll_phi(z - h, True, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)[1]
        den = fp - 2.0 * fz + fm
        if not den < 0.0:
            break
        zn = z - h * (fp - fm) / (2.0 * den)
        if abs(zn - z) > h:
            break
        fn = _ll_phi(zn, True, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)[1]
        if not fn >= fz - 1e-12 * abs(fz):
            break
        z, fz = zn, fn
    lam, ll = _ll_phi(z, True, xy, off, t, C, logdet_r, zc, L, n, reml, S, M, U, K, KX, beta)
    return math.tanh(z), lam, ll


@kernel
def inv_diag(KX, Kinv, out):
    """Diagonal of (K K')^-1 = K^-T K^-1 for a lower Cholesky factor K; Kinv: work (p x p)."""
    p = KX.shape[0]
    for m in range(p):
        for r in range(p):
            if r > m:
                Kinv[m, r] = 0.0
                continue
            s = 1.0 if r == m else 0.0
            for l in range(r, m):
                s -= KX[m, l] * Kinv[l, r]
            Kinv[m, r] = s / KX[m, m]
    for r in range(p):
        s = 0.0
        for m in range(r, p):
            s += Kinv[m, r] * Kinv[m, r]
        out[r] = s


@kernel
def fit_batch(X, Y, off, t, reml, ar, out, xy, C, logdet_r, zc, L, S, M, U, K, KX, Kinv, beta, dg):
    """Random-intercept fits of many data sets with one design X (N x P, cases by off).

    Row r of ``out`` gets beta (P), the unscaled variances diag((X'W^-1X)^-1) (P),
    RSS, lam, phi and the log-likelihood.  ``xy`` (N x NC) and the rest are work arrays.
    """
    n_obs = X.shape[0]
    p = X.shape[1]
    for j in range(n_obs):
        for c in range(p):
            xy[j, c] = X[j, c]
    for r in range(Y.shape[0]):
        # Centred y (every model has an intercept column): RSS = y'W^-1y - ... keeps its digits.
        ybar = 0.0
        for j in range(n_obs):
            ybar += Y[r, j]
        ybar /= n_obs
        for j in range(n_obs):
            xy[j, p] = Y[r, j] - ybar
        if ar:
            phi, lam, ll = max_phi_lambda(xy, off, t, C, logdet_r, zc, L, float(n_obs), reml, S, M, U, K, KX, beta)
        else:
            phi = 0.0
            crossprods(xy, off, t, 0.0, C, logdet_r)
            lam, ll = max_lambda(C, logdet_r, zc, L, float(n_obs), reml, S, M, U, K, KX, beta)
        inv_diag(KX, Kinv, dg)
        rss = S[p, p]
        for c in range(p):
            rss -= S[c, p] * beta[c]
            out[r, c] = beta[c]
            out[r, p + c] = dg[c]
        out[r, 0] += ybar
        out[r, 2 * p] = rss
        out[r, 2 * p + 1] = lam
        out[r, 2 * p + 2] = phi
        out[r, 2 * p + 3] = ll
