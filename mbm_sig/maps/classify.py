"""Classification of a numeric variable into classes, with the names and definitions of
mapsf's ``mf_get_breaks`` (R package mapsf, RIATE) and of the ``classInt`` styles it wraps.

Every method returns the class *bounds* (``k + 1`` increasing values). For most methods the
first and last bounds are the data's minimum and maximum; ``pretty`` and ``sd`` return
R's round values, which cover the data and may lie beyond it, as in mapsf. Classes are
closed on the right, the first one also on the left (mapclassify's convention): class ``i``
holds ``bounds[i] < x <= bounds[i + 1]`` (mapsf closes them on the left; the bounds are the
same, only a value equal to an inner bound changes class).

Methods (``k`` is the number of classes; when ``None``, mapsf's default
``round(1 + 3.3 * log10(n))``):

``quantile``
    quantiles at ``0, 1/k, …, 1`` (R's type 7, the default of ``stats::quantile``).
``equal``
    ``k`` classes of equal width.
``q6``
    six classes at the quantiles 0, 5, 27.5, 50, 72.5, 95 and 100 % (``k`` ignored).
``Q6``
    six classes at the quantiles 0, 5, 25, 50, 75, 95 and 100 % (``k`` ignored).
``geom``
    geometric progression from the minimum to the maximum (values > 0).
``arith``
    mapsf's arithmetic progression: with ``r = (max - min) / (1 + 2 + … + k)``, bounds at
    ``min, min + r, …, min + (k - 1) r`` and ``max`` (mapsf's code and tests).
``em``
    nested means («moyennes emboîtées»): each class split at its mean, ``k`` a power of 2.
``msd``
    mean and standard deviation (population s.d.): bounds every ``msd_k`` s.d. from the
    mean (the mean is a bound), or around a central class of one ``msd_k`` s.d. centred on
    the mean (``central=True``), between the minimum and the maximum (``k`` ignored).
``sd``
    classInt's ``sd``: R's ``pretty`` bounds of the standardised values (sample s.d.),
    scaled back.
``pretty``
    R's ``pretty(x, k)``: about ``k`` classes with round bounds covering the data.
``jenks``
    natural breaks (optimal: least within-class sum of squares); bounds are data values
    (the upper value of each class), as classInt's ``jenks``.
``fisher``
    the same optimal classes; inner bounds half-way between the last value of a class and
    the first of the next (classInt's ``fisher``).
``ckmeans``
    optimal univariate k-means (Ckmeans.1d.dp): the same classes and bounds as ``fisher``
    (mapsf says so and tests it).
``headtails``
    head/tail breaks (classInt): the mean splits the values; the head (values above it)
    is split again while it holds at most ``thr`` (0.4) of the values (``k`` ignored).
``breaks``
    explicit ``breaks``; the data's minimum and maximum are added when outside them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from mbm_sig.maps.errors import MapError

METHODS = ("quantile", "equal", "q6", "Q6", "geom", "arith", "em", "msd", "sd", "pretty",
           "jenks", "fisher", "ckmeans", "headtails", "breaks")
# former name kept for notebooks written before mapsf's names
ALIASES = {"nested_means": "em"}

Q6_PROBS = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
q6_PROBS = (0.0, 0.05, 0.275, 0.5, 0.725, 0.95, 1.0)
_FIXED_K = ("q6", "Q6", "msd", "headtails", "breaks")


class ClassificationError(MapError):
    """Unknown method or impossible classification (invalid input: exit status 2)."""


def normalise_method(method: str) -> str:
    """The canonical name of ``method``: exact names first (``q6`` and ``Q6`` differ), then
    case-insensitive ones; an unknown name raises an error listing the known ones."""
    m = str(method)
    if m in METHODS:
        return m
    low = m.lower()
    if low in ALIASES:
        return ALIASES[low]
    folded = [x for x in METHODS if x.lower() == low]
    if len(folded) == 1:
        return folded[0]
    raise ClassificationError(f"unknown classification method {method!r}; "
                              f"known methods: {', '.join(METHODS)}")


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ClassificationError("no finite value to classify")
    return v


def default_k(n: int) -> int:
    """mapsf's default number of classes for ``n`` values: ``round(1 + 3.3 log10(n))``."""
    return max(int(round(1 + 3.3 * math.log10(max(n, 1)))), 1)


def classify(values, method: str = "quantile", k: int | None = 5, breaks=None, *,
             msd_k: float = 1.0, central: bool = False, thr: float = 0.4) -> np.ndarray:
    """Class bounds of ``values`` (NaN and infinite values ignored) by ``method`` (see the
    module docstring). ``msd_k`` and ``central`` are mapsf's ``k`` and ``central`` of
    ``msd``; ``thr`` the head share of ``headtails``."""
    m = normalise_method(method)
    v = _clean(values)
    vmin, vmax = float(v.min()), float(v.max())
    if k is None:
        k = default_k(v.size)
    k = int(k)
    if m not in _FIXED_K and k < 1:
        raise ClassificationError(f"k must be >= 1, not {k}")
    out = _BOUNDS[m](v, k, breaks=breaks, msd_k=float(msd_k), central=bool(central), thr=float(thr))
    out = np.asarray(out, dtype=float)
    if m not in ("pretty", "sd"):
        out[0], out[-1] = min(out[0], vmin), max(out[-1], vmax)
    # equal bounds (many equal values) collapse into one
    out = np.sort(out)
    keep = np.concatenate([[True], np.diff(out) > 0])
    return out[keep] if keep.sum() >= 2 else np.array([vmin, vmax])


def _nested_means(v: np.ndarray, k: int) -> np.ndarray:
    """mapsf's ``em``: at each of log2(k) steps, the mean of the values of every class
    (the first closed on both sides, the others on the right) becomes a bound."""
    bounds = [float(v.min()), float(v.max())]
    for _ in range(int(round(math.log2(k)))):
        new = []
        for i in range(len(bounds) - 1):
            lo, hi = bounds[i], bounds[i + 1]
            sub = v[(v >= lo) & (v <= hi)] if i == 0 else v[(v > lo) & (v <= hi)]
            if sub.size:
                new.append(float(sub.mean()))
        bounds = sorted(bounds + new)
    return np.array(bounds)


def _msd(v: np.ndarray, sk: float, central: bool) -> np.ndarray:
    if not sk > 0:
        raise ClassificationError(f"method 'msd' needs msd_k > 0, not {sk:g}")
    vmin, vmax, mean = float(v.min()), float(v.max()), float(v.mean())
    step = float(np.sqrt(np.mean((v - mean) ** 2))) * sk
    if step == 0:
        return np.array([vmin, vmax])
    if central:
        lo, hi = mean - 0.5 * step, mean + 0.5 * step
    else:
        lo = hi = mean
    npos = max(int(math.ceil((vmax - hi) / step)), 0)
    nneg = max(int(math.ceil((lo - vmin) / step)), 0)
    bks = np.concatenate([lo - step * np.arange(1, nneg + 1), [lo, hi], hi + step * np.arange(1, npos + 1)])
    inner = np.unique(bks[(bks > vmin) & (bks < vmax)])
    return np.concatenate([[vmin], inner, [vmax]])


def _sd(v: np.ndarray, k: int) -> np.ndarray:
    if v.size < 2:
        raise ClassificationError("method 'sd' needs at least two values")
    mean, s = float(v.mean()), float(v.std(ddof=1))
    if s == 0:
        return np.array([v.min(), v.max()])
    z = (v - mean) / s
    return pretty(float(z.min()), float(z.max()), k) * s + mean


def pretty(lo: float, up: float, n: int = 5, min_n: int | None = None, shrink_sml: float = 0.75,
           high_u_bias: float = 1.5, u5_bias: float | None = None) -> np.ndarray:
    """R's ``pretty(c(lo, up), n)`` (``pretty.default`` and ``R_pretty``): about ``n + 1``
    equally spaced round values, 1, 2 or 5 times a power of 10 apart, covering [lo, up]."""
    if min_n is None:
        min_n = n // 3
    h = high_u_bias
    h5 = 0.5 + 1.5 * h if u5_bias is None else u5_bias
    eps = 2.220446049250313e-16
    dx = up - lo
    if dx == 0 and up == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(up))
        u = 1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5)
        small = dx < cell * u * max(1, n) * eps * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink_sml
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx / n if n > 1 else dx
    cell = min(max(cell, 20 * 2.2250738585072014e-308), 0.1 * 1.7976931348623157e308)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    reps = 1e-10      # R >= 4.2 (rounding_eps)
    ns = math.floor(lo / unit + reps)
    nu = math.ceil(up / unit - reps)
    while ns * unit > lo + reps * unit:
        ns -= 1
    while nu * unit < up - reps * unit:
        nu += 1
    kk = int(0.5 + nu - ns)
    if kk < min_n:
        kk = min_n - kk
        if ns >= 0:
            nu += kk // 2
            ns -= kk // 2 + kk % 2
        else:
            ns -= kk // 2
            nu += kk // 2 + kk % 2
        ndiv = min_n
    else:
        ndiv = kk
    s = np.linspace(ns * unit, nu * unit, ndiv + 1)
    if ndiv:
        s[np.abs(s) < 1e-14 * (nu - ns) * unit / ndiv] = 0.0
    return s


def _natural(v: np.ndarray, k: int, midpoints: bool) -> np.ndarray:
    """Optimal classes (Fisher 1958; Jenks; Ckmeans.1d.dp): mapclassify's Fisher-Jenks.
    Bounds: the upper value of each class, or half-way to the next class's first value."""
    import mapclassify
    u = np.unique(v)
    kk = min(k, u.size)
    if kk < 2:
        return np.array([v.min(), v.max()])
    with warnings.catch_warnings():     # «Numba not installed»: the pure-Python version is used
        warnings.simplefilter("ignore", UserWarning)
        uppers = np.asarray(mapclassify.FisherJenks(v, k=kk).bins, dtype=float)[:-1]
    if midpoints:
        nxt = u[np.searchsorted(u, uppers, side="right")]
        uppers = (uppers + nxt) / 2
    return np.concatenate([[v.min()], uppers, [v.max()]])


def _headtails(v: np.ndarray, thr: float) -> np.ndarray:
    thr = min(1.0, max(0.0, thr))
    head = v
    bounds = [float(v.min())]
    for _ in range(100):
        mu = float(head.mean())
        bounds.append(mu)
        n = head.size
        head = head[head > mu]
        if not (head.size / n <= thr and head.size > 1):
            break
    bounds.append(float(v.max()))
    return np.unique(bounds)


_FR = {
    "quantile": "{k} classes d'effectifs égaux (quantiles)",
    "equal": "{k} classes d'égale amplitude",
    "q6": "méthode Q6 à classes centrales égales (quantiles 5, 27,5, 50, 72,5 et 95 %)",
    "Q6": "méthode Q6 (quantiles 5, 25, 50, 75 et 95 %)",
    "geom": "{k} classes en progression géométrique",
    "arith": "{k} classes en progression arithmétique",
    "em": "{k} classes par moyennes emboîtées",
    "msd": "{k} classes d'un écart type de part et d'autre de la moyenne",
    "sd": "{k} classes en écarts types (bornes arrondies)",
    "pretty": "{k} classes à bornes arrondies",
    "jenks": "{k} classes par seuils naturels (Jenks)",
    "fisher": "{k} classes par seuils naturels (Fisher)",
    "ckmeans": "{k} classes par seuils naturels (k-moyennes)",
    "headtails": "{k} classes par la méthode head/tail (moyennes successives de la tête)",
    "breaks": "{k} classes à bornes choisies",
}


def describe(method: str, bounds) -> str:
    """The classification in one French sentence, for the credits or a sources page
    («Méthode Q6 (quantiles 5, 25, 50, 75 et 95 %).», «4 classes d'égale amplitude.»)."""
    text = _FR[normalise_method(method)].format(k=max(len(bounds) - 1, 1))
    return text[0].upper() + text[1:] + "."


def _explicit(v, k, breaks=None, **_):
    if breaks is None:
        raise ClassificationError("method 'breaks' needs a list of breaks")
    b = sorted(float(x) for x in breaks)
    if b[0] > v.min():
        b.insert(0, float(v.min()))
    if b[-1] < v.max():
        b.append(float(v.max()))
    return np.array(b)


def _geom(v, k, **_):
    vmin, vmax = float(v.min()), float(v.max())
    if vmin <= 0:
        raise ClassificationError(f"method 'geom' needs strictly positive values (minimum is {vmin:g})")
    return vmin * (vmax / vmin) ** (np.arange(k + 1) / k)


def _arith(v, k, **_):
    vmin, vmax = float(v.min()), float(v.max())
    r = (vmax - vmin) / (k * (k + 1) / 2)
    return np.concatenate([vmin + r * np.arange(k), [vmax]])


def _em(v, k, **_):
    if k & (k - 1):
        raise ClassificationError(f"method 'em' needs k a power of 2, not {k}")
    return _nested_means(v, k)


# method -> function(values, k, **options) giving the bounds
_BOUNDS = {
    "quantile": lambda v, k, **_: np.quantile(v, np.linspace(0, 1, k + 1)),
    "equal": lambda v, k, **_: np.linspace(v.min(), v.max(), k + 1),
    "q6": lambda v, k, **_: np.quantile(v, q6_PROBS),
    "Q6": lambda v, k, **_: np.quantile(v, Q6_PROBS),
    "geom": _geom,
    "arith": _arith,
    "em": _em,
    "msd": lambda v, k, msd_k=1.0, central=False, **_: _msd(v, msd_k, central),
    "sd": lambda v, k, **_: _sd(v, k),
    "pretty": lambda v, k, **_: pretty(float(v.min()), float(v.max()), k),
    "jenks": lambda v, k, **_: _natural(v, k, midpoints=False),
    "fisher": lambda v, k, **_: _natural(v, k, midpoints=True),
    "ckmeans": lambda v, k, **_: _natural(v, k, midpoints=True),
    "headtails": lambda v, k, thr=0.4, **_: _headtails(v, thr),
    "breaks": _explicit,
}


def assign(values, bounds) -> np.ndarray:
    """Class index (0..len(bounds)-2) of each value; -1 for NaN or outside the bounds."""
    v = np.asarray(values, dtype=float)
    b = np.asarray(bounds, dtype=float)
    idx = np.searchsorted(b, v, side="left") - 1
    idx[v == b[0]] = 0
    idx[~np.isfinite(v) | (v < b[0]) | (v > b[-1])] = -1
    return np.clip(idx, -1, len(b) - 2)
