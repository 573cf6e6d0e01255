"""Are the colours of one legend distinct? CIEDE2000 and simulated deuteranopia.

Formulas implemented here (no colour-science dependency):

- sRGB (IEC 61966-2-1) → linear RGB → CIE XYZ (D65) → CIELAB (D65 white);
- CIEDE2000 colour difference (CIE 142-2001), as written out by Sharma, Wu and Dalal,
  «The CIEDE2000 Color-Difference Formula: Implementation Notes, Supplementary Test Data,
  and Mathematical Observations», Color Research & Application 30 (2005) — the module's
  tests use that paper's 34 test pairs;
- deuteranopia simulated with the Machado, Oliveira and Fernandes (2009) matrix for
  severity 1.0, applied to linear RGB.

A legend is readable when every pair of its categories differs by at least
:data:`MIN_DELTA_E` in normal vision *and* under simulated deuteranopia, unless the two
symbols also differ by shape (marker) or pattern (hatch): then colour is not the only cue.

What is distinct on a screen-sized swatch is not at print size. The rules for symbols as
printed (:func:`legend_problems`, :func:`weak_steps`):

- **Small symbols** — points below :data:`SMALL_SYMBOL_MM` (3 mm), lines of at most
  :data:`THIN_LINE_MM`, and hatched areas, whose fill shows only in strips under 1 mm wide
  between the lines (the swatch read as its fill mixed with the hatch's ink,
  :func:`hatched`) — need twice the difference of areas: CIEDE2000 ≥
  :data:`MIN_DELTA_E_SMALL` (20) in normal vision and ≥ :data:`MIN_DELTA_E_SMALL_CVD` (15)
  under deuteranopia. The colour difference one can see falls with the size of the mark:
  Stone, Szafir and Setlur, «An Engineering Model for Color Difference as a Function of
  Size», 22nd Color and Imaging Conference (2014), and Szafir, «Modeling Color Difference
  for Visualization Design», IEEE TVCG 24 (2018): a mark of a few tenths of a degree (3 mm
  at 40 cm is 0.43°) needs about twice the difference of a large patch. Brewer, «Color Use
  Guidelines for Mapping and Visualization» (in MacEachren and Taylor, *Visualization in
  Modern Cartography*, 1994) gives the cartographic rule: small areas, points and thin
  lines need stronger contrasts than large areas, which is why ColorBrewer (Harrower and
  Brewer, *The Cartographic Journal* 40, 2003) marks its pale qualitative schemes for
  areas only. On small symbols two shapes of one family (a circle, a hexagon, a
  pentagon; a square and its diamond…) no longer tell symbols apart: only shapes of
  different families (:data:`SHAPE_FAMILIES`) replace the colour difference.
- **Near-black** — a colour of lightness L* ≤ :data:`NEAR_BLACK_L` (25) reads as black on a
  printed symbol whatever its hue (Brewer 1994: hue is not seen in dark colours; the
  darkest classes of ColorBrewer's 9-class schemes, Blues #08306b L* 21, Greens #00441b
  L* 25, are the ones that read as black on print): at most :data:`MAX_NEAR_BLACK` per
  legend, whatever the shapes.
- **Sequential steps** — adjacent classes of a sequential ramp at least :data:`MIN_STEP_L`
  (8) apart in L* (a sequential scheme is read by its lightness: Brewer 1994; ColorBrewer's
  5-class schemes keep at least 9.8 at their light end, Greens 5; its 6- and 7-class
  schemes drop to 6.4–7.6, OrRd 6, Purples 6, which print as one tint). A diverging ramp
  is checked on each arm, from its lightest class outwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from mbm_sig.errors import InvalidInput

MIN_DELTA_E = 10.0          # CIEDE2000, normal vision
MIN_DELTA_E_CVD = 10.0      # CIEDE2000, simulated deuteranopia
MAX_CATEGORIES = 10         # entries of one categorical legend
SMALL_SYMBOL_MM = 3.0       # point symbols below this size (mm) are small
THIN_LINE_MM = 0.5          # lines at most this wide (mm) are thin
MIN_DELTA_E_SMALL = 20.0    # CIEDE2000 between small symbols, normal vision
MIN_DELTA_E_SMALL_CVD = 15.0    # CIEDE2000 between small symbols, simulated deuteranopia
NEAR_BLACK_L = 25.0         # CIELAB L* at or below which a printed symbol reads as black
MAX_NEAR_BLACK = 1          # near-black entries on one legend
MIN_STEP_L = 8.0            # L* between adjacent classes of a sequential ramp

# matplotlib markers grouped by the outline a reader tells apart on a symbol of 1–3 mm
SHAPE_FAMILIES = {
    "o": "round", "8": "round", "h": "round", "H": "round", "p": "round", ".": "round",
    "s": "square", "D": "diamond", "d": "diamond",
    "^": "triangle up", "v": "triangle down", "<": "triangle left", ">": "triangle right",
    "P": "plus", "+": "plus", "X": "cross", "x": "cross", "*": "star",
}

# sRGB (D65) linear RGB -> XYZ
_M_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                   [0.2126729, 0.7151522, 0.0721750],
                   [0.0193339, 0.1191920, 0.9503041]])
_WHITE = _M_XYZ.sum(axis=1)            # D65 white point of sRGB (Y = 1)
# Machado et al. (2009), deuteranomaly severity 1.0, linear RGB -> linear RGB
_M_DEUTAN = np.array([[0.367322, 0.860646, -0.227968],
                      [0.280085, 0.672501, 0.047413],
                      [-0.011820, 0.042940, 0.968881]])


class ColourError(InvalidInput):
    """A colour that is not '#rrggbb' / '#rgb' / 'none'."""


def hex_to_rgb(c: str) -> tuple[float, float, float]:
    """'#rrggbb' or '#rgb' -> sRGB components in 0..1."""
    s = str(c).strip()
    if not s.startswith("#") or len(s) not in (4, 7):
        raise ColourError(f"colour {c!r} is not #rrggbb")
    s = s[1:]
    if len(s) == 3:
        s = "".join(ch * 2 for ch in s)
    try:
        return tuple(int(s[i:i + 2], 16) / 255.0 for i in (0, 2, 4))   # type: ignore[return-value]
    except ValueError:
        raise ColourError(f"colour {c!r} is not #rrggbb") from None


def _linear(rgb) -> np.ndarray:
    v = np.asarray(rgb, dtype=float)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _lab_of_linear(lin) -> tuple[float, float, float]:
    xyz = _M_XYZ @ np.clip(np.asarray(lin, dtype=float), 0.0, 1.0) / _WHITE
    e, k = 216 / 24389, 24389 / 27
    f = np.where(xyz > e, np.cbrt(xyz), (k * xyz + 16) / 116)
    return (float(116 * f[1] - 16), float(500 * (f[0] - f[1])), float(200 * (f[1] - f[2])))


def lab(c: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB hex colour."""
    return _lab_of_linear(_linear(hex_to_rgb(c)))


def lab_to_hex(lab_colour) -> str:
    """The sRGB hex colour of a CIELAB (D65) colour, clipped to the sRGB gamut."""
    L, a, b = (float(v) for v in lab_colour)
    fy = (L + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    e, k = 216 / 24389, 24389 / 27
    xyz = np.where(f ** 3 > e, f ** 3, (116 * f - 16) / k) * _WHITE
    lin = np.clip(np.linalg.solve(_M_XYZ, xyz), 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in np.clip(srgb, 0, 1))


def deuteranopia_lab(c: str) -> tuple[float, float, float]:
    """CIELAB of the colour as a deuteranope sees it (Machado 2009, severity 1)."""
    return _lab_of_linear(_M_DEUTAN @ _linear(hex_to_rgb(c)))


def ciede2000(lab1, lab2, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> float:
    """CIEDE2000 difference between two CIELAB colours (Sharma et al. 2005, eq. 1–23)."""
    L1, a1, b1 = lab1
    L2, a2, b2 = lab2
    C1, C2 = math.hypot(a1, b1), math.hypot(a2, b2)
    Cm = (C1 + C2) / 2
    G = 0.5 * (1 - math.sqrt(Cm ** 7 / (Cm ** 7 + 25 ** 7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if (a1p or b1) else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if (a2p or b2) else 0.0
    dLp = L2 - L1
    dCp = C2p - C1p
    if C1p * C2p == 0:
        dhp = 0.0
    else:
        dhp = h2p - h1p
        if dhp > 180:
            dhp -= 360
        elif dhp < -180:
            dhp += 360
    dHp = 2 * math.sqrt(C1p * C2p) * math.sin(math.radians(dhp) / 2)
    Lpm = (L1 + L2) / 2
    Cpm = (C1p + C2p) / 2
    if C1p * C2p == 0:
        hpm = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hpm = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        hpm = (h1p + h2p + 360) / 2
    else:
        hpm = (h1p + h2p - 360) / 2
    T = (1 - 0.17 * math.cos(math.radians(hpm - 30)) + 0.24 * math.cos(math.radians(2 * hpm))
         + 0.32 * math.cos(math.radians(3 * hpm + 6)) - 0.20 * math.cos(math.radians(4 * hpm - 63)))
    dtheta = 30 * math.exp(-(((hpm - 275) / 25) ** 2))
    Rc = 2 * math.sqrt(Cpm ** 7 / (Cpm ** 7 + 25 ** 7))
    Sl = 1 + 0.015 * (Lpm - 50) ** 2 / math.sqrt(20 + (Lpm - 50) ** 2)
    Sc = 1 + 0.045 * Cpm
    Sh = 1 + 0.015 * Cpm * T
    Rt = -math.sin(math.radians(2 * dtheta)) * Rc
    return math.sqrt((dLp / (kL * Sl)) ** 2 + (dCp / (kC * Sc)) ** 2 + (dHp / (kH * Sh)) ** 2
                     + Rt * (dCp / (kC * Sc)) * (dHp / (kH * Sh)))


def delta_e(c1: str, c2: str, deutan: bool = False) -> float:
    """CIEDE2000 between two hex colours, in normal vision or as a deuteranope sees them."""
    f = deuteranopia_lab if deutan else lab
    return ciede2000(f(c1), f(c2))


@dataclass(frozen=True)
class Clash:
    """Two legend entries too close in colour (and not told apart by shape or pattern)."""

    a: str
    b: str
    colour_a: str
    colour_b: str
    delta_e: float
    delta_e_deutan: float

    def __str__(self) -> str:
        return (f"«{self.a}» {self.colour_a} and «{self.b}» {self.colour_b}: CIEDE2000 "
                f"{self.delta_e:.1f}, {self.delta_e_deutan:.1f} under deuteranopia")


def shape_family(shape) -> object:
    """The family of a marker as a small printed symbol (a hatch or unknown shape: itself)."""
    return SHAPE_FAMILIES.get(shape, shape) if isinstance(shape, str) else shape


def is_small(geometry: str | None, size_mm: float | None) -> bool:
    """A point symbol below :data:`SMALL_SYMBOL_MM`, a line of at most :data:`THIN_LINE_MM`,
    or a hatched area (its fill is seen only in the strips between the hatch's lines, under
    a millimetre wide: small marks too)."""
    if geometry == "hatched":
        return True
    if size_mm is None:
        return False
    if geometry == "point":
        return size_mm < SMALL_SYMBOL_MM
    if geometry == "line":
        return size_mm <= THIN_LINE_MM
    return False


def clashes(entries, min_de: float = MIN_DELTA_E, min_de_cvd: float = MIN_DELTA_E_CVD,
            small: bool = False) -> list[Clash]:
    """Pairs of legend entries too close in colour.

    ``entries``: iterable of ``(label, colour)`` or ``(label, colour, shape)``; ``shape`` is
    anything that tells symbols apart besides colour (a marker, a hatch); two entries with
    different shapes never clash. Entries with no colour ('none') are skipped. ``small``:
    the symbols are small (:func:`is_small`): the thresholds are at least
    :data:`MIN_DELTA_E_SMALL` / :data:`MIN_DELTA_E_SMALL_CVD` and only shapes of different
    families tell two symbols apart.
    """
    if small:
        min_de, min_de_cvd = max(min_de, MIN_DELTA_E_SMALL), max(min_de_cvd, MIN_DELTA_E_SMALL_CVD)
    rows = []
    for e in entries:
        label, colour = str(e[0]), e[1]
        shape = e[2] if len(e) > 2 else None
        if small:
            shape = shape_family(shape)
        if not colour or str(colour).lower() == "none":
            continue
        rows.append((label, str(colour), shape, lab(colour), deuteranopia_lab(colour)))
    out = []
    for (la, ca, sa, lab_a, d_a), (lb, cb, sb, lab_b, d_b) in combinations(rows, 2):
        if sa != sb:
            continue
        de, dd = ciede2000(lab_a, lab_b), ciede2000(d_a, d_b)
        if de < min_de or dd < min_de_cvd:
            out.append(Clash(la, lb, ca, cb, de, dd))
    return out


def is_ordered(colours) -> bool:
    """True when the colours run monotonically in CIELAB lightness (an ordered palette)."""
    ls = [lab(c)[0] for c in colours if c and str(c).lower() != "none"]
    if len(ls) < 3:
        return True
    d = np.diff(ls)
    return bool(np.all(d > 0) or np.all(d < 0))


def _hatch_coverage(hatch: str, linewidth_pt: float) -> float:
    """Share of a swatch the lines of a matplotlib hatch cover: its tile is one inch (72 pt)
    with 6 lines per repeated character (``matplotlib.hatch``, density 6), diagonal lines
    √2 closer across their direction."""
    n_diag = 6 * (hatch.count("/") + hatch.count("\\") + 2 * (hatch.count("x") + hatch.count("X")))
    n_axis = 6 * (hatch.count("-") + hatch.count("|") + 2 * hatch.count("+"))
    cover = linewidth_pt * (n_diag * math.sqrt(2) + n_axis) / 72.0
    return float(min(max(cover, 0.0), 1.0))


def hatched(colour: str, hatch: str | None, ink: str | None, linewidth_pt: float) -> str:
    """The colour a hatched swatch reads as at print size: its fill and the hatch's ink mixed
    in linear light by the share the lines cover (fine lines are not seen one by one)."""
    if not hatch or not ink or str(ink).lower() == "none" or str(colour).lower() == "none":
        return colour
    k = _hatch_coverage(hatch, linewidth_pt)
    mix = (1 - k) * _linear(hex_to_rgb(colour)) + k * _linear(hex_to_rgb(ink))
    return lab_to_hex(_lab_of_linear(mix))


def near_blacks(entries) -> list[tuple[str, str, float]]:
    """The entries (label, colour, L*) that read as black at print size (L* ≤
    :data:`NEAR_BLACK_L`), whatever their shape."""
    out = []
    for e in entries:
        colour = e[1]
        if not colour or str(colour).lower() == "none":
            continue
        L = lab(str(colour))[0]
        if L <= NEAR_BLACK_L:
            out.append((str(e[0]), str(colour), L))
    return out


@dataclass(frozen=True)
class Step:
    """Two adjacent classes of a ramp too close in lightness."""

    index: int                  # the lower class of the pair (0-based, in legend order)
    colour_a: str
    colour_b: str
    delta_l: float

    def __str__(self) -> str:
        return (f"classes {self.index + 1} and {self.index + 2} ({self.colour_a}, {self.colour_b}) "
                f"{self.delta_l:.1f} apart in L* (at least {MIN_STEP_L:g} wanted)")


def weak_steps(colours, min_step: float = MIN_STEP_L) -> list[Step]:
    """Adjacent classes of a sequential ramp less than ``min_step`` apart in L*; a diverging
    ramp (its lightest class inside) is checked on each arm from the lightest class outwards,
    the step across its centre excepted."""
    cols = [str(c) for c in colours if c and str(c).lower() != "none"]
    if len(cols) < 2:
        return []
    ls = [lab(c)[0] for c in cols]
    top = int(np.argmax(ls))
    centre = {top - 1, top} if 0 < top < len(cols) - 1 else set()
    out = []
    for i in range(len(cols) - 1):
        if i in centre:
            continue
        d = abs(ls[i + 1] - ls[i])
        if d < min_step:
            out.append(Step(i, cols[i], cols[i + 1], d))
    return out


def legend_problems(entries, geometry: str | None = None, size_mm: float | None = None) -> list[str]:
    """What makes one categorical legend unreadable at print size: pairs too close in colour
    (size-aware, :func:`clashes`), more than one near-black entry, more than
    :data:`MAX_CATEGORIES` entries. ``geometry``: 'point', 'line' or 'area'; ``size_mm``:
    the symbols' size (points) or width (lines) on the page."""
    entries = list(entries)
    small = is_small(geometry, size_mm)
    out = []
    rule = ""
    if small:
        what = ("hatched areas" if geometry == "hatched" else
                f"lines of {size_mm:.2f} mm" if geometry == "line" else f"symbols of {size_mm:.1f} mm")
        rule = f" ({what}: at least {MIN_DELTA_E_SMALL:g}, {MIN_DELTA_E_SMALL_CVD:g} under deuteranopia)"
    out += [f"{c}{rule}" for c in clashes(entries, small=small)]
    dark = near_blacks(entries)
    if len(dark) > MAX_NEAR_BLACK:
        out.append(f"{len(dark)} entries read as black at print size (L* ≤ {NEAR_BLACK_L:g}): "
                   + ", ".join(f"«{n}» {c} L* {v:.0f}" for n, c, v in dark)
                   + f" (at most {MAX_NEAR_BLACK})")
    if len(entries) > MAX_CATEGORIES:
        out.append(f"{len(entries)} categories (at most {MAX_CATEGORIES})")
    return out
