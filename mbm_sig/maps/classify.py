"""Classification of a numeric variable into classes for choropleth and coloured symbols.

Every method returns the class *bounds*, minimum and maximum included (``k + 1`` values,
increasing). Classes are closed on the right, the first one also on the left (mapclassify's
convention): class ``i`` holds ``bounds[i] < x <= bounds[i + 1]``.
"""

from __future__ import annotations

import numpy as np

from mbm_sig.maps.errors import MapError

METHODS = ("quantile", "equal", "jenks", "fisher", "q6", "geom", "nested_means", "headtails",
           "breaks")
ALIASES = {"quantiles": "quantile", "equal_interval": "equal", "fisher_jenks": "fisher",
           "fisherjenks": "fisher", "geometric": "geom", "msd": None}

Q6_PROBS = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


class ClassificationError(MapError):
    """Unknown method or impossible classification."""


def normalise_method(method: str) -> str:
    m = str(method).lower()
    m = ALIASES.get(m, m) or m
    if m not in METHODS:
        raise ClassificationError(f"unknown classification method {method!r}; "
                                  f"known methods: {', '.join(METHODS)}")
    return m


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ClassificationError("no finite value to classify")
    return v


def classify(values, method: str = "quantile", k: int = 5, breaks=None) -> np.ndarray:
    """Class bounds (min and max included) of ``values`` (NaN ignored).

    ``method``: quantile, equal, jenks/fisher (Fisher-Jenks optimal, mapclassify),
    q6 (bounds at quantiles 0, 5, 25, 50, 75, 95, 100 %; always 6 classes), geom
    (geometric progression, values > 0), nested_means (k a power of two), headtails
    (number of classes found by the method), breaks (explicit ``breaks``; the data's min
    and max are added when outside).
    """
    m = normalise_method(method)
    v = _clean(values)
    vmin, vmax = float(v.min()), float(v.max())
    k = int(k)
    if m != "breaks" and m not in ("q6", "headtails") and k < 1:
        raise ClassificationError(f"k must be >= 1, not {k}")
    if m == "breaks" or breaks is not None and m == "breaks":
        if breaks is None:
            raise ClassificationError("method 'breaks' needs a list of breaks")
        b = sorted(float(x) for x in breaks)
        if b[0] > vmin:
            b.insert(0, vmin)
        # the top class ends at the data's maximum: a manual top break above it is clipped
        # («8 km» where the farthest commune is at 6,1 km would promise what no commune has);
        # the number of classes is kept (a series keeps its colours on every sheet)
        if b[-1] < vmax:
            b.append(vmax)
        elif b[-1] > vmax:
            b[-1] = max(vmax, b[-2])
        out = np.array(b)
    elif m == "quantile":
        out = np.quantile(v, np.linspace(0, 1, k + 1))
    elif m == "q6":
        out = np.quantile(v, Q6_PROBS)
    elif m == "equal":
        out = np.linspace(vmin, vmax, k + 1)
    elif m in ("jenks", "fisher"):
        import mapclassify
        kk = min(k, len(np.unique(v)))
        out = np.concatenate([[vmin], mapclassify.FisherJenks(v, k=kk).bins])
    elif m == "geom":
        if vmin <= 0:
            raise ClassificationError("method 'geom' needs strictly positive values "
                                      f"(minimum is {vmin:g})")
        out = vmin * (vmax / vmin) ** (np.arange(k + 1) / k)
    elif m == "nested_means":
        if k & (k - 1):
            raise ClassificationError(f"method 'nested_means' needs k a power of 2, not {k}")
        out = _nested_means(v, k)
    elif m == "headtails":
        import mapclassify
        out = np.concatenate([[vmin], mapclassify.HeadTailBreaks(v).bins])
    out = np.asarray(out, dtype=float)
    out[0], out[-1] = min(out[0], vmin), max(out[-1], vmax)
    # equal bounds (many equal values) collapse into one
    keep = np.concatenate([[True], np.diff(out) > 0])
    return out[keep] if keep.sum() >= 2 else np.array([vmin, vmax])


def _nested_means(v: np.ndarray, k: int) -> np.ndarray:
    bounds = [float(v.min()), float(v.max())]
    parts = [v]
    while len(parts) < k:
        new_parts = []
        for p in parts:
            if p.size == 0:
                new_parts += [p, p]
                continue
            mean = float(p.mean())
            bounds.append(mean)
            new_parts += [p[p <= mean], p[p > mean]]
        parts = new_parts
    return np.unique(np.array(bounds))


def assign(values, bounds) -> np.ndarray:
    """Class index (0..len(bounds)-2) of each value; -1 for NaN or outside the bounds."""
    v = np.asarray(values, dtype=float)
    b = np.asarray(bounds, dtype=float)
    idx = np.searchsorted(b, v, side="left") - 1
    idx[v == b[0]] = 0
    idx[~np.isfinite(v) | (v < b[0]) | (v > b[-1])] = -1
    return np.clip(idx, -1, len(b) - 2)
