"""Exact comparison of squared Euclidean distances, and the settling of k-d tree candidates.

The kernels of :class:`flair_hdbscan.neighbors.ExactNeighbors`, compiled with numba
(``cache=True``). Squared distances are compared in float64 where that is provably right,
and otherwise exactly: products split without rounding (Dekker's product) summed as a
non-overlapping expansion (Shewchuk's expansion sum), whose sign is the sign of the
difference — on the factored form ``Σ (a - b)(a + b - 2q)`` when its factors are exact (2
terms per column), else on ``Σ a² - b² - 2qa + 2qb`` (8). Exact for finite values that are
0 or of magnitude in [2**-400, 2**400].
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


@njit(cache=True, nogil=True, inline="always")
def _sum_is_exact(a: float, b: float) -> tuple[float, bool]:
    """``a + b`` in float64, and whether it was computed without rounding (Knuth's TwoSum)."""
    s = a + b
    bv = s - a
    return s, (a - (s - bv)) + (b - bv) == 0.0


@njit(cache=True, nogil=True)
def _factored_sign(q: np.ndarray, a: np.ndarray, b: np.ndarray, buf: np.ndarray) -> int:
    """Sign of ``Σ (a - b)(a + b - 2q)``, or 2 when a factor cannot be computed exactly.

    Both factors of each column are exact whenever the values share a narrow enough range
    of exponents, as float32 features of pixels do in float64: each product is then split
    exactly into two terms, a float64 sum with its error bound decides the sign unless the
    two distances nearly tie, and an expansion of the ``2f`` terms settles that case.
    """
    f = q.shape[0]
    terms = buf[4 * f :]  # the expansion grows in buf[: 2 * f + 1]
    n = 0
    total = 0.0
    size = 0.0
    for i in range(f):
        ai = np.float64(a[i])
        bi = np.float64(b[i])
        if ai == bi:
            continue
        x, exact_x = _sum_is_exact(ai, -bi)
        s, exact_s = _sum_is_exact(ai, bi)
        y, exact_y = _sum_is_exact(s, -2.0 * np.float64(q[i]))
        if not (exact_x and exact_y and exact_s):
            return 2
        p, e = _two_prod(x, y)
        terms[n] = p
        terms[n + 1] = e
        n += 2
        total += p
        size += abs(p)
    # |Σ (p + e) - total| ≤ (f - 1)·u·Σ|p| (the sum's rounding) + u·Σ|p| (the e's): doubled
    bound = 2.0 * (f + 1) * U * size
    if total > bound:
        return 1
    if total < -bound:
        return -1
    m = 0
    for j in range(n):
        m = _grow(buf, m, terms[j])
    if m == 0:
        return 0
    return 1 if buf[m - 1] > 0.0 else -1


@njit(cache=True, nogil=True)
def _exact_sign(q: np.ndarray, a: np.ndarray, b: np.ndarray, buf: np.ndarray) -> int:
    """Sign of ``|a - q|² - |b - q|²``, exactly.

    Factored first (:func:`_factored_sign`: 2 exact terms per column, and most near ties
    decided by one float64 sum); otherwise ``Σ a² - b² - 2qa + 2qb`` as an expansion of
    8 exact terms per column.
    """
    sign = _factored_sign(q, a, b, buf)
    if sign != 2:
        return sign
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
def _compare(q, P, a, b, fa, fb, tol, buf) -> int:
    """Order of points ``P[a]`` and ``P[b]`` by exact distance to ``q``.

    Their float64 distances ``fa`` and ``fb`` decide where that is provable; only a near
    tie takes the rows (views whose reference counting would otherwise cost more than the
    whole comparison) to :func:`_exact_sign`.
    """
    d = fa - fb
    t = tol * (fa + fb)
    if d > t:
        return 1
    if d < -t:
        return -1
    return _exact_sign(q, P[a], P[b], buf)


# -- settling candidates -----------------------------------------------------------------


@njit(cache=True, nogil=True)
def _sort_by_distance(q, P, cand, F, order, cc, tol, buf, tied) -> None:
    """Order ``order[:cc]`` by exact distance of ``P[cand[order]]`` to ``q``; mark ties.

    Sorted by the float64 distances ``F`` first. Where consecutive ones are too close for
    that order to be provably right, the run of near ties is ordered again by the exact
    comparison. Every point outside a run is provably farther than the run's points
    before it and nearer than those after, since each gap at a run's ends exceeds both
    distances' rounding. ``tied[j]`` is set when ``order[j]`` is at exactly the distance
    of ``order[j - 1]``.
    """
    for j in range(1, cc):  # insertion sort: c is small
        x = order[j]
        fx = F[x]
        p = j - 1
        while p >= 0 and F[order[p]] > fx:
            order[p + 1] = order[p]
            p -= 1
        order[p + 1] = x
    j = 0
    while j < cc:
        tied[j] = False
        e = j + 1
        while e < cc:
            fa = F[order[e - 1]]
            fb = F[order[e]]
            if fb - fa > tol * (fa + fb):
                break
            e += 1
        for t in range(j + 1, e):  # a run of near ties: insertion sort by exact order
            x = order[t]
            p = t - 1
            sign = 1
            while p >= j:
                y = order[p]
                sign = _compare(q, P, cand[y], cand[x], F[y], F[x], tol, buf)
                if sign <= 0:
                    break
                order[p + 1] = y
                p -= 1
            order[p + 1] = x
        for t in range(j + 1, e):
            if e - j == 2:  # the one comparison made above
                tied[t] = sign == 0
            else:
                a = order[t - 1]
                b = order[t]
                tied[t] = _compare(q, P, cand[a], cand[b], F[a], F[b], tol, buf) == 0
        j = e


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
    tied = np.zeros(c, np.bool_)
    buf = np.empty(8 * f + 2)
    votes = np.empty(n_classes, np.int64)
    merge = np.empty(k * c, np.int64)
    for i in range(nq):
        cc = 0  # candidates of this query
        for j in range(c):
            u = cand[i, j]
            if u < 0:
                continue
            s = 0.0
            for d in range(f):
                t = np.float64(P[u, d]) - np.float64(Q[i, d])
                s += t * t
            F[j] = s
            order[cc] = j
            cc += 1
        _sort_by_distance(Q[i], P, cand[i], F, order, cc, tol, buf, tied)
        votes[:] = 0
        need = k
        taken = 0
        j = 0
        cutoff = 0.0
        while j < cc and need > 0:
            first = order[j]
            e = j + 1
            level_max = F[first]
            while e < cc and tied[e]:
                level_max = max(level_max, F[order[e]])
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
                        x = rows[r] * n_classes + row_cls[r]
                        p = nm - 1  # kept sorted as it grows (a handful of rows)
                        while p >= 0 and merge[p] > x:
                            merge[p + 1] = merge[p]
                            p -= 1
                        merge[p + 1] = x
                        nm += 1
                cnt = min(nm, need)
                for r in range(cnt):
                    votes[merge[r] % n_classes] += 1
                    if want_rows:
                        out_rows[i, taken] = merge[r] // n_classes
                    taken += 1
                need -= cnt
            cutoff = level_max
            j = e
        out_cls[i] = np.argmax(votes)  # first maximum: ties to the smallest class
        ok[i] = need == 0 and (exhaustive or cutoff * (1.0 + 2.0 * tol) < lower[i])
