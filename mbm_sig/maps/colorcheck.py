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


def clashes(entries, min_de: float = MIN_DELTA_E, min_de_cvd: float = MIN_DELTA_E_CVD) -> list[Clash]:
    """Pairs of legend entries too close in colour.

    ``entries``: iterable of ``(label, colour)`` or ``(label, colour, shape)``; ``shape`` is
    anything that tells symbols apart besides colour (a marker, a hatch); two entries with
    different shapes never clash. Entries with no colour ('none') are skipped.
    """
    rows = []
    for e in entries:
        label, colour = str(e[0]), e[1]
        shape = e[2] if len(e) > 2 else None
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
