"""Checks of the map labels as printed: town names next to their place, context towns set
apart from the subject's, point labels nearer their own symbol than any other, the same
town at the same place on the sheets that share a frame, and no label hidden under a
symbol drawn after it.

Each check takes a :class:`mbm_sig.check.Sheet` (or the list of them for the series
check) and returns its findings as text; the map labels are the printed texts set with a
halo inside the map frame (:mod:`mbm_sig.check.pdf`), the towns and their anchors come
from the communes (:func:`mbm_sig.maps.labels.towns`), and the symbols from the render
information.
"""

from __future__ import annotations

import re

import numpy as np

from mbm_sig.maps.labels import AMBIGUOUS_MM, INK_MARGIN, TOWN_MAX_MM, TOWN_STYLE, town_context, town_style

POSITION_MM = 1.0           # the same town on two sheets of one frame: this far apart is another position
COVER_MM2 = 0.02            # a label's glyphs covered by a later paint over this area are hidden


def _norm(t: str) -> str:
    return re.sub(r"[\s\u00a0\u202f’'\-]+", " ", str(t)).strip().lower()


def map_labels(s) -> list:
    """The printed map labels of a sheet: texts set with a halo inside its frame."""
    if not s.frame_mm or s.text is None:
        return []
    fx, fy, fw, fh = s.frame_mm
    return [r for r in s.text.runs
            if r.halo and not r.rotated and fx <= r.cx <= fx + fw and fy <= r.cy <= fy + fh]


def town_anchors(s) -> dict:
    """normalised town name -> list of (x mm, y mm, population, seat, inside the subject)
    of the communes of that name inside the sheet's extent."""
    if s.towns is None or not s.frame_mm or not s.extent or not len(s.towns):
        return {}
    x0, y0, x1, y1 = s.extent
    t = s.towns
    t = t[(t["x"] >= x0) & (t["x"] <= x1) & (t["y"] >= y0) & (t["y"] <= y1)]
    if not len(t):
        return {}
    fx, fy, fw, fh = s.frame_mm
    k = fw / (x1 - x0)
    ax, ay = fx + (t["x"].to_numpy() - x0) * k, fy + (y1 - t["y"].to_numpy()) * k
    inside = np.ones(len(t), dtype=bool)
    subject = getattr(s, "subject", None)
    if subject is not None:
        import shapely
        inside = shapely.contains_xy(subject, t["x"].to_numpy(), t["y"].to_numpy())
    out: dict = {}
    for n, x, y, p, st, ins in zip(t["nom"], ax, ay, t["population"], t["seat"], inside, strict=True):
        out.setdefault(_norm(n), []).append((float(x), float(y), float(p), bool(st), bool(ins)))
    return out


def box_distance(b, x: float, y: float) -> float:
    """Distance (mm) from a point to a box (x0, y0, x1, y1); 0 inside it."""
    dx = max(b[0] - x, 0.0, x - b[2])
    dy = max(b[1] - y, 0.0, y - b[3])
    return float(np.hypot(dx, dy))


def _town_of(run, anchors: dict):
    """The commune a printed label names (the nearest of that name), or None."""
    cands = anchors.get(_norm(run.text))
    if not cands:
        return None
    return min(cands, key=lambda c: box_distance(run.bbox, c[0], c[1]))


def check_town_distance(s, max_mm: float = TOWN_MAX_MM) -> list[str]:
    """A town label whose ink lies farther than ``max_mm`` from its commune's anchor: the
    name has drifted away from its place."""
    anchors = town_anchors(s)
    if not anchors:
        return []
    out = []
    for r in map_labels(s):
        c = _town_of(r, anchors)
        if c is None:
            continue
        d = box_distance(r.bbox, c[0], c[1])
        if d > max_mm:
            out.append(f"«{r.text}» printed {d:.1f} mm from its commune's anchor (x {c[0]:.0f} mm, "
                       f"y {c[1]:.0f} mm; at most {max_mm:g} mm)")
    return out


def check_town_context(s) -> list[str]:
    """A town outside the map's subject (Lille on a map of the basin) printed bold or at
    the size of the subject's towns: it reads as one of them."""
    if getattr(s, "subject", None) is None:
        return []
    anchors = town_anchors(s)
    out = []
    for r in map_labels(s):
        c = _town_of(r, anchors)
        if c is None or c[4]:
            continue
        size, weight = town_style(c[2])
        if c[3]:
            size = max(size, TOWN_STYLE[2][1])
        want, _ = town_context(size, weight)
        what = []
        if r.bold:
            what.append("bold")
        if r.size > want + 0.05:
            what.append(f"{r.size:g} pt (context towns {want:g} pt)")
        if what:
            out.append(f"«{r.text}», outside the map's subject, printed {' and '.join(what)} like the "
                       "subject's towns")
    return out


def check_label_ambiguity(s, margin: float = AMBIGUOUS_MM) -> list[str]:
    """A point label (a terril's number beside its symbol) nearer another symbol than its
    own: the reader gives it to the other."""
    pl = getattr(s, "point_labels", None)
    if not pl or s.symbols is None:
        return []
    xy_r, _ = s.symbols
    if not len(xy_r):
        return []
    own: dict = {}
    for text, ax, ay, rad in pl:
        own.setdefault(_norm(text), []).append((ax, ay, rad))
    out = []
    for r in map_labels(s):
        mine = own.get(_norm(r.text))
        if not mine:
            continue
        b = r.bbox
        dx = np.maximum(np.maximum(b[0] - xy_r[:, 0], xy_r[:, 0] - b[2]), 0.0)
        dy = np.maximum(np.maximum(b[1] - xy_r[:, 1], xy_r[:, 1] - b[3]), 0.0)
        rim = np.hypot(dx, dy) - xy_r[:, 2]
        ax, ay, rad = min(mine, key=lambda m: box_distance(b, m[0], m[1]))
        d_own = box_distance(b, ax, ay) - rad
        others = ~((np.abs(xy_r[:, 0] - ax) < 1e-3) & (np.abs(xy_r[:, 1] - ay) < 1e-3))
        if not others.any():
            continue
        k = int(np.argmin(np.where(others, rim, np.inf)))
        if rim[k] < d_own - margin:
            out.append(f"«{r.text}» nearer another symbol (x {xy_r[k, 0]:.0f} mm, y {xy_r[k, 1]:.0f} mm, "
                       f"{max(rim[k], 0):.1f} mm) than its own ({d_own:.1f} mm)")
    return out


def check_label_covered(s) -> list[str]:
    """A map label whose glyphs are painted over by something drawn after it (a symbol,
    a circle): labels go above every symbol."""
    paints = getattr(s.text, "paints", None) if s.text is not None else None
    if not paints:
        return []
    out = []
    for r in map_labels(s):
        later = [p for p in paints if p[0] >= r.order]
        if not later:
            continue
        area = 0.0
        for g in r.glyphs or (r.bbox,):
            for _, b in later:
                w = min(g[2], b[2]) - max(g[0], b[0])
                h = min(g[3], b[3]) - max(g[1], b[1])
                if w > 0 and h > 0:
                    area += w * h
        if area > COVER_MM2:
            out.append(f"«{r.text}» covered by a symbol drawn after it ({area:.2f} mm² of its glyphs) at "
                       f"x {r.cx:.0f} mm, y {r.cy:.0f} mm")
    return out


# ------------------------------------------------------------------------------ series

def _frame_groups(sheets) -> dict:
    groups: dict = {}
    for s in sheets:
        if s.kind != "map" or not s.frame_mm or not s.extent or s.towns is None:
            continue
        key = (tuple(round(float(v), 1) for v in s.frame_mm), tuple(round(float(v), -1) for v in s.extent))
        groups.setdefault(key, []).append(s)
    return groups


WAY_MM = 0.6                # around a label's ink, what another text or a symbol must clear (the
                            # engine's boxes: ink, halo pad and line box)


def _blocked(s, run, at, grow: float = WAY_MM) -> bool:
    """Something of sheet ``s`` (a point symbol, a proportional circle, another printed
    text) lies where ``run`` would be with its ink centred on ``at``."""
    dx, dy = at[0] - run.cx, at[1] - run.cy
    box = (run.bbox[0] + dx - grow, run.bbox[1] + dy - grow, run.bbox[2] + dx + grow, run.bbox[3] + dy + grow)
    for sym in (s.symbols, getattr(s, "circles", None)):
        if sym is None or not len(sym[0]):
            continue
        xy_r = sym[0]
        ex = np.maximum(np.maximum(box[0] - xy_r[:, 0], xy_r[:, 0] - box[2]), 0.0)
        ey = np.maximum(np.maximum(box[1] - xy_r[:, 1], xy_r[:, 1] - box[3]), 0.0)
        if (np.hypot(ex, ey) < xy_r[:, 2]).any():
            return True
    for r in s.text.runs:
        if r is run:
            continue
        b = r.outer()
        if b[0] < box[2] + grow and box[0] - grow < b[2] and b[1] < box[3] + grow and box[1] - grow < b[3]:
            return True
    return False


def check_series_town_positions(sheets, tol: float = POSITION_MM) -> list:
    """The same town on two sheets that share a frame (same page box, same ground extent)
    printed more than ``tol`` mm apart although each sheet could have printed it where
    the other does (nothing of it, a symbol, a circle, another label, in the way there):
    a town moves only when a sheet's own content forces it to."""
    out = []
    for ss in _frame_groups(sheets).values():
        if len(ss) < 2:
            continue
        where: dict = {}            # town -> [(sheet, run)]
        for s in ss:
            anchors = town_anchors(s)
            for r in map_labels(s):
                if _norm(r.text) in anchors:
                    where.setdefault(_norm(r.text), []).append((s, r))
        for items in where.values():
            reported: set = set()
            for i, (si, ri) in enumerate(items):
                for sj, rj in items[i + 1:]:
                    if id(sj) in reported or np.hypot(ri.cx - rj.cx, ri.cy - rj.cy) <= tol:
                        continue
                    if _blocked(sj, rj, (ri.cx, ri.cy)) or _blocked(si, ri, (rj.cx, rj.cy)):
                        continue
                    reported.add(id(sj))
                    out.append((sj, f"«{rj.text}» at x {rj.cx:.0f} mm, y {rj.cy:.0f} mm where p. {si.number} "
                                    f"(same frame) prints it at x {ri.cx:.0f} mm, y {ri.cy:.0f} mm, with nothing "
                                    "in the way of either position on either sheet"))
    return out


FRAME_CLEAR_MM = 0.5        # as the frame check: a label's ink this far inside the frame line
CLEAR_STEP = 1.0            # mm: the positions tried around a town's anchor for a clear place


def clear_place_near(s, run, anchor, max_mm: float = TOWN_MAX_MM - INK_MARGIN, step: float = CLEAR_STEP):
    """A position (x, y of the ink's centre) within ``max_mm`` of ``anchor`` where ``run``
    would lie inside the frame, clear (by :data:`WAY_MM`) of every point symbol, circle
    and other text of the sheet; None when there is none (a town may then overlay a
    symbol with its halo)."""
    ax, ay = anchor
    b = r_box = run.bbox
    iw, ih = (r_box[2] - r_box[0]) / 2, (r_box[3] - r_box[1]) / 2
    kx, ky = int((iw + max_mm) / step), int((ih + max_mm) / step)
    fx, fy, fw, fh = s.frame_mm
    syms = [sym[0] for sym in (s.symbols, getattr(s, "circles", None)) if sym is not None and len(sym[0])]
    xy_r = np.vstack(syms) if syms else np.zeros((0, 3))
    others = np.array([r.outer() for r in s.text.runs if r is not run]).reshape(-1, 4)
    pad = WAY_MM
    for j in range(-ky, ky + 1):
        for i in range(-kx, kx + 1):
            cx, cy = ax + i * step, ay + j * step
            b = (cx - iw, cy - ih, cx + iw, cy + ih)
            if box_distance(b, ax, ay) > max_mm:
                continue
            if (b[0] < fx + FRAME_CLEAR_MM or b[1] < fy + FRAME_CLEAR_MM or b[2] > fx + fw - FRAME_CLEAR_MM
                    or b[3] > fy + fh - FRAME_CLEAR_MM):
                continue
            g = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
            if len(others) and ((others[:, 0] < g[2] + pad) & (others[:, 2] > g[0] - pad)
                                & (others[:, 1] < g[3] + pad) & (others[:, 3] > g[1] - pad)).any():
                continue
            if len(xy_r):
                dx = np.maximum(np.maximum(g[0] - xy_r[:, 0], xy_r[:, 0] - g[2]), 0.0)
                dy = np.maximum(np.maximum(g[1] - xy_r[:, 1], xy_r[:, 1] - g[3]), 0.0)
                if (np.hypot(dx, dy) < xy_r[:, 2]).any():
                    continue
            return cx, cy
    return None
