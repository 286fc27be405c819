"""Exact comparison of squared Euclidean distances, and the settling of k-d tree candidates.

The kernels of :class:`flair_hdbscan.neighbors.ExactNeighbors`, compiled with numba
(``cache=True``). Squared distances are compared in float64 where that is provably right,
and otherwise exactly: products split without rounding (Dekker's product) summed as a
non-overlapping expansion (Shewchuk's expansion sum), whose sign is the sign of the
difference. Exact for finite values that are 0 or of magnitude in [2**-400, 2**400].
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["U", "settle"]

#: Unit roundoff of float64.
U = 2.0**-53


@njit(cache=True, nogil=True, inline="always")
def _split(a: float) -> tuple[float, float]:
    """Veltkamp's split: ``a == hi + lo`` with each half of 26 bits, so products are exact."""
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


@njit(cache=True, nogil=True, inline="always")
def _two_prod(a: float, b: float) -> tuple[float, float]:
    """Dekker's product: ``a * b == p + e`` exactly."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@njit(cache=True, nogil=True, inline="always")
def _grow(h: np.ndarray, n: int, x: float) -> int:
    """Add ``x`` to the non-overlapping expansion ``h[:n]`` (Shewchuk's Grow-Expansion).

    The expansion stays non-overlapping with components in increasing magnitude and zeros
    removed, and its sum is exact; returns its new length.
    """
    if x == 0.0:
        return n
    q = x
    m = 0
    for j in range(n):
        hj = h[j]
        s = q + hj
        bv = s - q
        av = s - bv
        err = (q - av) + (hj - bv)
        q = s
        if err != 0.0:
            h[m] = err
            m += 1
    if q != 0.0:
        h[m] = q
        m += 1
    return m


@njit(cache=True, nogil=True)
def _exact_sign(q: np.ndarray, a: np.ndarray, b: np.ndarray, buf: np.ndarray) -> int:
    """Sign of ``|a - q|² - |b - q|²``, exactly: ``Σ a² - b² - 2qa + 2qb`` as an expansion."""
    n = 0
    for i in range(q.shape[0]):
        ai = np.float64(a[i])
        bi = np.float64(b[i])
        if ai == bi:
            continue
        qi = np.float64(q[i])
        p, e = _two_prod(ai, ai)
        n = _grow(buf, n, p)
        n = _grow(buf, n, e)
        p, e = _two_prod(bi, bi)
        n = _grow(buf, n, -p)
        n = _grow(buf, n, -e)
        p, e = _two_prod(-2.0 * qi, ai)
        n = _grow(buf, n, p)
        n = _grow(buf, n, e)
        p, e = _two_prod(2.0 * qi, bi)
        n = _grow(buf, n, p)
        n = _grow(buf, n, e)
    if n == 0:
        return 0
    return 1 if buf[n - 1] > 0.0 else -1


@njit(cache=True, nogil=True, inline="always")
def _compare(q, pa, pb, fa, fb, tol, buf) -> int:
    """Order of two points by exact distance to ``q`` (float64 distances when provable)."""
    d = fa - fb
    t = tol * (fa + fb)
    if d > t:
        return 1
    if d < -t:
        return -1
    return _exact_sign(q, pa, pb, buf)


# -- settling candidates -----------------------------------------------------------------


@njit(cache=True, nogil=True)
def settle(
    Q,
    P,
    cand,
    lower,
    ptr,
    rows,
    row_cls,
    n_classes,
    k,
    exhaustive,
    want_rows,
    out_cls,
    out_rows,
    ok,
):
    """The canonical ``k`` rows of each query from its candidate points, and their vote.

    Args:
        Q: ``(q, f)`` queries.
        P: ``(m, f)`` distinct training points.
        cand: ``(q, c) int64`` candidate points of each query (any order; ``-1`` marks no
            candidate).
        lower: ``(q,) float64`` lower bound of the squared distance of every point not in
            ``cand[i]`` (unused when ``exhaustive``).
        ptr: ``(m + 1,)`` integer: the rows of point ``u`` are ``rows[ptr[u]:ptr[u + 1]]``.
        rows: ``(n,)`` training rows grouped by point, ascending within a point.
        row_cls: ``(n,)`` class index of each of ``rows``.
        n_classes: number of classes.
        k: neighbours.
        exhaustive: ``cand`` holds every point.
        want_rows: also write the rows.
        out_cls: ``(q,) int64`` majority class of each query (written).
        out_rows: ``(q, k) int64`` rows by (distance, index) (written when ``want_rows``).
        ok: ``(q,) bool`` whether each query is certified (written).
    """
    nq, c = cand.shape
    f = Q.shape[1]
    tol = 4.0 * (f + 3) * 1.1102230246251565e-16
    F = np.empty(c)
    order = np.empty(c, np.int64)
    buf = np.empty(8 * f + 2)
    votes = np.empty(n_classes, np.int64)
    merge = np.empty(k * c, np.int64)
    for i in range(nq):
        q = Q[i]
        cc = 0  # candidates of this query
        for j in range(c):
            u = cand[i, j]
            if u < 0:
                continue
            s = 0.0
            for d in range(f):
                t = np.float64(P[u, d]) - np.float64(q[d])
                s += t * t
            F[j] = s
            order[cc] = j
            cc += 1
        for j in range(1, cc):  # insertion sort: c is small
            x = order[j]
            p = j - 1
            while p >= 0:
                y = order[p]
                if _compare(q, P[cand[i, y]], P[cand[i, x]], F[y], F[x], tol, buf) <= 0:
                    break
                order[p + 1] = y
                p -= 1
            order[p + 1] = x
        votes[:] = 0
        need = k
        taken = 0
        j = 0
        cutoff = 0.0
        while j < cc and need > 0:
            first = order[j]
            e = j + 1
            level_max = F[first]
            while e < cc:
                y = order[e]
                if _compare(q, P[cand[i, first]], P[cand[i, y]], F[first], F[y], tol, buf) != 0:
                    break
                level_max = max(level_max, F[y])
                e += 1
            if e == j + 1:  # one point: its rows in index order
                u = cand[i, first]
                start = ptr[u]
                cnt = min(ptr[u + 1] - start, need)
                for r in range(start, start + cnt):
                    votes[row_cls[r]] += 1
                    if want_rows:
                        out_rows[i, taken] = rows[r]
                    taken += 1
                need -= cnt
            else:  # points at exactly equal distance: merge their first rows by index
                nm = 0
                for jj in range(j, e):
                    u = cand[i, order[jj]]
                    start = ptr[u]
                    for r in range(start, start + min(ptr[u + 1] - start, need)):
                        merge[nm] = rows[r] * n_classes + row_cls[r]
                        nm += 1
                part = np.sort(merge[:nm])
                cnt = min(nm, need)
                for r in range(cnt):
                    votes[part[r] % n_classes] += 1
                    if want_rows:
                        out_rows[i, taken] = part[r] // n_classes
                    taken += 1
                need -= cnt
            cutoff = level_max
            j = e
        out_cls[i] = np.argmax(votes)  # first maximum: ties to the smallest class
        ok[i] = need == 0 and (exhaustive or cutoff * (1.0 + 2.0 * tol) < lower[i])
