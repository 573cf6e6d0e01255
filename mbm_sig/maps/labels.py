"""Label placement with collision avoidance, in page millimetres.

Candidates are tried by decreasing priority; a label is kept when its box lies inside the
map frame and overlaps neither a kept label nor an obstacle (scale bar, arrow…); otherwise
it is dropped. Polygon labels are centred on a point inside the polygon. Point labels
(``around=True``, QGIS «around point») sit beside their symbol, never on it: right, left,
above, below, then the four diagonals, at ``offset`` (the symbol's radius, mm) plus a small
gap from the anchor — the first position that fits wins; they also keep off the other
symbols of their layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbm_sig.maps.layout import measure

# positions around a point, in order of preference: (sx, sy) direction of the label box
# from the anchor (y down): right, left, above, below, then the diagonals
AROUND = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1))
AROUND_GAP = 0.5       # mm between the symbol's edge and the label box


@dataclass
class Label:
    text: str
    x: float          # centre of the label box, mm from the left
    y: float          # centre of the label box, mm from the top
    w: float
    h: float
    priority: float
    anchor: tuple | None = None      # the anchor (mm), for point labels beside their symbol

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in page mm, origin top-left."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)


def _overlaps(b, boxes: np.ndarray) -> bool:
    if len(boxes) == 0:
        return False
    return bool(np.any((boxes[:, 0] < b[2]) & (boxes[:, 2] > b[0]) & (boxes[:, 1] < b[3]) & (boxes[:, 3] > b[1])))


def around_candidates(x, y, w, h, r, gap=AROUND_GAP):
    """Centres of a w × h label box beside a symbol of radius ``r`` at (x, y), in order."""
    d = r + gap
    out = []
    for sx, sy in AROUND:
        k = 0.7071 if sx and sy else 1.0           # diagonals: on the circle of radius d
        out.append((x + sx * (d * k + w / 2), y + sy * (d * k + h / 2)))
    return out


def place(texts, xy_mm: np.ndarray, size: float, frame, priority=None, points: bool = False,
          obstacles=(), kept_boxes=None, pad: float = 0.4, weight: str = "normal", gap: float = 1.2,
          around: bool | None = None, offset=0.8):
    """Greedy placement. ``xy_mm``: anchors in page mm (origin top-left). Returns the kept
    :class:`Label` list. ``kept_boxes`` (list of bboxes) is extended in place so several
    label layers do not collide with each other. ``around`` (default: ``points``) places
    each label beside its anchor at ``offset`` mm (a number, or one per anchor: the
    symbol's radius) instead of centring it on the anchor."""
    around = points if around is None else around
    offs = np.broadcast_to(np.asarray(offset, dtype=float), (len(texts),))
    # beside their symbols, labels also keep off the other symbols of their layer
    sym = None
    if around and len(texts):
        r = np.nan_to_num(offs, nan=0.0)
        sym = np.c_[xy_mm[:, 0] - r, xy_mm[:, 1] - r, xy_mm[:, 0] + r, xy_mm[:, 1] + r]
        sym = np.where(np.isfinite(sym), sym, -1e9)
    fx0, fy0, fw, fh = frame
    n = len(texts)
    pr = np.zeros(n) if priority is None else np.nan_to_num(np.asarray(priority, dtype=float), nan=-np.inf)
    order = np.argsort(-pr, kind="stable")
    boxes = list(kept_boxes) if kept_boxes is not None else []
    boxes += [(o[0], o[1], o[0] + o[2], o[1] + o[3]) for o in obstacles]
    arr = np.array(boxes, dtype=float).reshape(-1, 4)
    out = []
    for i in order:
        t = texts[i]
        x, y = xy_mm[i]
        if not t or not np.isfinite(x) or not np.isfinite(y):
            continue
        if not (fx0 <= x <= fx0 + fw and fy0 <= y <= fy0 + fh):
            continue
        w, h = measure(t, size, weight)
        w, h = w + 2 * pad, h + 2 * pad
        cands = around_candidates(x, y, w, h, float(offs[i]) if np.isfinite(offs[i]) else 0.0) if around else [(x, y)]
        for cx, cy in cands:
            b = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if b[0] < fx0 or b[1] < fy0 or b[2] > fx0 + fw or b[3] > fy0 + fh:
                continue
            if _overlaps(b, arr):
                continue
            if sym is not None:
                hit = ((sym[:, 0] < b[2]) & (sym[:, 2] > b[0]) & (sym[:, 1] < b[3]) & (sym[:, 3] > b[1]))
                hit[i] = False
                if hit.any():
                    continue
            out.append(Label(t, cx, cy, w, h, float(pr[i]), (float(x), float(y))))
            arr = np.vstack([arr, b])
            if kept_boxes is not None:
                kept_boxes.append(b)
            break
    return out
