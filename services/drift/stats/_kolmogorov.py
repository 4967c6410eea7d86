"""The two-sided Kolmogorov-Smirnov distribution's survival function, ``scipy.stats.kstwo.sf``,
without importing ``scipy.stats``.

Why a copy: ``import scipy.stats`` costs about 1 s of CPU (2.2 s with DuckDB's threads busy) and,
on a background thread, held the GIL long enough to slow a pushdown report's own statements by
about as much (``bench/drift_speed.py``: 2.98 s against 1.64-2.02 s with scipy.stats preloaded).
A pushdown report needs only this function from it. The code below is scipy 1.17's
``scipy/stats/_ksstats.py`` (``_kolmogn`` with ``cdf=False`` and the three methods it calls:
Durbin-Marsaglia-Tsang-Wang, Pomeranz, Pelz-Good; Simard & L'Ecuyer's choice between them),
reduced to the scalar survival function and typed; the arithmetic is unchanged.
``tests/drift/test_distributions.py`` compares it with ``scipy.stats.kstwo.sf`` over n and d.

scipy is Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers; BSD-3-Clause licence
(the licence text ships with scipy: ``scipy-*.dist-info/LICENSE.txt``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import smirnov

_E128 = 128
_EP128 = float(np.ldexp(np.longdouble(1), _E128))
_EM128 = float(np.ldexp(np.longdouble(1), -_E128))

_SQRT2PI = math.sqrt(2 * math.pi)
_LOG_2PI = math.log(2 * math.pi)
_MIN_LOG = -708
_SQRT3 = math.sqrt(3)
_PI_SQUARED = math.pi**2
_PI_FOUR = math.pi**4
_PI_SIX = math.pi**6

# Stirling coefficients B_{2j}/(2j)/(2j-1) for j = 8, ..., 1 (B_m: the Bernoulli numbers)
_STIRLING_COEFFS = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
]


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _log_nfactorial_div_n_pow_n(n: int) -> float:
    """log(n! / n**n) by Stirling's series, n*log(n) removed up-front (no cancellation)."""
    rn = 1.0 / n
    return float(np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING_COEFFS, rn / n))


def _cdf_dmtw(n: int, d: float) -> float:
    """Pr(D_n <= d), Durbin's matrix algorithm as Marsaglia, Tsang & Wang (2003) compute it."""
    if d >= 1.0:
        return 1.0
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    H = np.zeros([m, m])
    intm = np.arange(1, m + 1)
    v = 1.0 - h**intm
    w = np.empty(m)
    fac = 1.0
    for j in intm:
        w[j - 1] = fac
        fac /= j  # may underflow: harmless
        v[j - 1] *= fac
    tt = max(2 * h - 1.0, 0) ** m - 2 * h**m
    v[-1] = (1.0 + tt) * fac
    for i in range(1, m):
        H[i - 1 :, i] = w[: m - i + 1]
    H[:, 0] = v
    H[-1, :] = np.flip(v, axis=0)
    Hpwr = np.eye(np.shape(H)[0])
    nn = n
    expnt = 0
    Hexpnt = 0
    while nn > 0:
        if nn % 2:
            Hpwr = np.matmul(Hpwr, H)
            expnt += Hexpnt
        H = np.matmul(H, H)
        Hexpnt *= 2
        if np.abs(H[k - 1, k - 1]) > _EP128:
            H /= _EP128
            Hexpnt += _E128
        nn = nn // 2
    p = Hpwr[k - 1, k - 1]
    for i in range(1, n + 1):  # times n!/n^n
        p = i * p / n
        if np.abs(p) < _EM128:
            p *= _EP128
            expnt -= _E128
    if expnt != 0:
        p = np.ldexp(p, expnt)
    return _clip(float(p))


def _pomeranz_j1j2(i: int, n: int, ll: int, ceilf: int, roundf: int) -> tuple[int, int]:
    """The endpoints of row i's interval."""
    if i == 0:
        j1, j2 = -ll - ceilf - 1, ll + ceilf - 1
    else:
        ip1div2, ip1mod2 = divmod(i + 1, 2)
        if ip1mod2 == 0:  # i is odd
            if ip1div2 == n + 1:
                j1, j2 = n - ll - ceilf - 1, n + ll + ceilf - 1
            else:
                j1, j2 = ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1
        else:
            j1, j2 = ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def _cdf_pomeranz(n: int, x: float) -> float:
    """Pr(D_n <= x) by Pomeranz's recursion (1974)."""
    t = n * x
    ll = int(np.floor(t))
    f = 1.0 * (t - ll)
    g = min(f, 1.0 - f)
    ceilf = 1 if f > 0 else 0
    roundf = 1 if f > 0.5 else 0
    npwrs = 2 * (ll + 1)
    gpower = np.empty(npwrs)
    twogpower = np.empty(npwrs)
    onem2gpower = np.empty(npwrs)
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0
    expnt = 0
    g_over_n, two_g_over_n, one_minus_two_g_over_n = g / n, 2 * g / n, (1 - 2 * g) / n
    for m in range(1, npwrs):
        gpower[m] = gpower[m - 1] * g_over_n / m
        twogpower[m] = twogpower[m - 1] * two_g_over_n / m
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / m
    V0 = np.zeros([npwrs])
    V1 = np.zeros([npwrs])
    V1[0] = 1
    V0s, V1s = 0, 0
    j1, j2 = _pomeranz_j1j2(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        V0, V1 = V1, V0
        V0s, V1s = V1s, V0s
        V1.fill(0.0)
        j1, j2 = _pomeranz_j1j2(i, n, ll, ceilf, roundf)
        if i == 1 or i == 2 * n + 1:
            pwrs = gpower
        else:
            pwrs = twogpower if i % 2 else onem2gpower
        ln2 = j2 - k1 + 1
        if ln2 > 0:
            conv = np.convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2])
            conv_start = j1 - k1
            conv_len = j2 - j1 + 1
            V1[:conv_len] = conv[conv_start : conv_start + conv_len]
            if 0 < np.max(V1) < _EM128:
                V1 *= _EP128
                expnt -= _E128
            V1s = V0s + j1 - k1
    ans = V1[n - V1s]
    for m in range(1, n + 1):  # times n!
        if np.abs(ans) > _EP128:
            ans *= _EM128
            expnt += _E128
        ans *= m
    if expnt != 0:
        ans = np.ldexp(ans, expnt)
    return _clip(float(ans))


def _cdf_pelz_good(n: int, x: float) -> float:
    """Pelz & Good's (1976) approximation of Pr(D_n <= x), the Li-Chien/Korolyuk series
    K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n**1.5 (z = x*sqrt(n)) through Jacobi theta
    functions."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = np.exp(qlog)
    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    K0to3 = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):  # Horner over odd m = 2k - 1
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        K0to3 *= qpower
        K0to3 += coeffs
    K0to3 *= q
    K0to3 *= _SQRT2PI
    K0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q**ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    K0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    K0to3[3] += k3extra
    powers_of_n = np.power(n * 1.0, np.arange(len(K0to3)) / 2.0)
    K0to3 /= powers_of_n
    return float(sum(K0to3))


def kstwo_sf(x: float, n: int) -> float:
    """Pr(D_n >= x) for the two-sided one-sample KS statistic D_n, as ``scipy.stats.kstwo.sf(x, n)``
    (scipy's choice of method by n and n*x**2, after Simard & L'Ecuyer 2011)."""
    if n <= 0 or int(n) != n:
        return math.nan
    n = int(n)
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: 1/2n <= x <= 1/n
        if t <= 0.5:
            return 1.0
        if n <= 140:
            prob = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            prob = float(np.exp(_log_nfactorial_div_n_pow_n(n) + n * np.log(2 * t - 1)))
        return _clip(1.0 - prob)
    if t >= n - 1:  # Ruben-Gambino
        return _clip(2 * (1.0 - x) ** n)
    if x >= 0.5:  # exact: 2 * smirnov
        return _clip(2 * float(smirnov(n, x)))
    nxsquared = t * x
    if n <= 140:
        if nxsquared <= 0.754693:
            return _clip(1.0 - _cdf_dmtw(n, x))
        if nxsquared <= 4:
            return _clip(1.0 - _cdf_pomeranz(n, x))
        return _clip(2 * float(smirnov(n, x)))  # Miller's approximation
    if nxsquared >= 370.0:
        return 0.0
    if nxsquared >= 2.2:
        return _clip(2 * float(smirnov(n, x)))
    if n <= 100000 and n * x**1.5 <= 1.4:
        return _clip(1.0 - _cdf_dmtw(n, x))
    return _clip(1.0 - _cdf_pelz_good(n, x))
