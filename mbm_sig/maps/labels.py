"""Label placement with collision avoidance, in page millimetres.

Candidates are tried by decreasing priority; a label is kept when its box lies inside the
map frame and overlaps neither a kept label nor an obstacle (scale bar, arrow…); otherwise
it is dropped. Point labels try several positions around the point; polygon labels are
centred on a point inside the polygon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbm_sig.maps.layout import measure

# offsets (dx, dy) in units of (label width, label height) relative to the anchor, for points
POINT_POSITIONS = ((0.5, -0.5), (-0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (0.0, -0.9), (0.0, 0.9))


@dataclass
class Label:
    text: str
    x: float          # centre of the label box, mm from the left
    y: float          # centre of the label box, mm from the top
    w: float
    h: float
    priority: float

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in page mm, origin top-left."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)


def _overlaps(b, boxes: np.ndarray) -> bool:
    if len(boxes) == 0:
        return False
    return bool(np.any((boxes[:, 0] < b[2]) & (boxes[:, 2] > b[0]) & (boxes[:, 1] < b[3]) & (boxes[:, 3] > b[1])))


def place(texts, xy_mm: np.ndarray, size: float, frame, priority=None, points: bool = False,
          obstacles=(), kept_boxes=None, pad: float = 0.4, weight: str = "normal", gap: float = 1.2):
    """Greedy placement. ``xy_mm``: anchors in page mm (origin top-left). Returns the kept
    :class:`Label` list. ``kept_boxes`` (list of bboxes) is extended in place so several
    label layers do not collide with each other."""
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
        cands = [(x + dx * (w + gap), y + dy * (h + gap * 0.5)) for dx, dy in POINT_POSITIONS] if points else [(x, y)]
        for cx, cy in cands:
            b = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if b[0] < fx0 or b[1] < fy0 or b[2] > fx0 + fw or b[3] > fy0 + fh:
                continue
            if _overlaps(b, arr):
                continue
            out.append(Label(t, cx, cy, w, h, float(pr[i])))
            arr = np.vstack([arr, b])
            if kept_boxes is not None:
                kept_boxes.append(b)
            break
    return out
