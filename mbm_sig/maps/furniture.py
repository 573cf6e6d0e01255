"""The layout pieces of a sheet besides the legend blocks: title, scale bar, north arrow,
inset (locator map), credits, logo, «fictive» stamp, and the map frame and basemap under
the layers.

Every piece has the size/draw protocol of :class:`Piece`, the one the legend blocks
(:class:`~mbm_sig.maps.layout.LegendBlock`) have: ``size()`` gives its width and height in
mm, ``draw(page, x, y)`` draws it with its top-left corner at (x, y) mm on the page and
returns what it drew (its box, or the symbols of a legend). The solver
(:mod:`mbm_sig.maps.solver`) places them.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Protocol

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.patches import PathPatch, Rectangle

from mbm_sig.maps import fmt, geom
from mbm_sig.maps.layout import GREY, INK, PT_MM, Page, line_height, measure, nice_length

Box = tuple[float, float, float, float]          # x, y (top-left), w, h in mm


class Piece(Protocol):
    """What the solver places: a size, and a drawing at a top-left corner."""

    def size(self) -> tuple[float, float]: ...

    def draw(self, page: Page, x: float, y: float): ...


def fit_extent(bounds, ratio: float, margin: float):
    """Grow ``bounds`` to the frame's aspect ratio (w/h), then scale by 1 + margin."""
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w / h < ratio:
        w = h * ratio
    else:
        h = w / ratio
    w, h = w * (1 + margin), h * (1 + margin)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


_INSET_CACHE: dict = {}


def _inset_path(g, tol):
    """Simplified inset outline, cached by content (the same inset is on every atlas page)."""
    import hashlib
    key = (hashlib.sha1(b"".join(shapely.to_wkb(g))).hexdigest(), round(tol, 1))
    if key not in _INSET_CACHE:
        if len(_INSET_CACHE) > 16:
            _INSET_CACHE.clear()
        (_INSET_CACHE[key],) = geom.polygon_paths(shapely.simplify(g, tol))
    return _INSET_CACHE[key]

class MapFrame:
    """A map frame drawn straight on the Figure (no Axes: cheaper, and exact).

    ``transData`` maps ground coordinates (EPSG:2154 metres) to the page; artists added
    with :meth:`add_artist` are clipped to the frame."""

    def __init__(self, fig, rect_frac, extent):
        from matplotlib.transforms import Affine2D, Bbox, TransformedBbox
        left, bottom, w, h = rect_frac
        x0, y0, x1, y1 = extent
        self.fig = fig
        self.transData = (Affine2D().translate(-x0, -y0).scale(w / (x1 - x0), h / (y1 - y0))
                          .translate(left, bottom) + fig.transFigure)
        # page points (1/72 in) from the bottom-left corner: paths are written to the PDF
        # in points rounded to PRECISION decimals (shorter files, below print resolution)
        wi, hi = fig.get_size_inches()
        self._pt = (x0, y0, w * wi * 72 / (x1 - x0), h * hi * 72 / (y1 - y0), left * wi * 72, bottom * hi * 72)
        self.transPt = Affine2D().scale(1 / 72) + fig.dpi_scale_trans
        self.clip = TransformedBbox(Bbox.from_bounds(left, bottom, w, h), fig.transFigure)

    PRECISION = 2

    def to_points(self, path):
        """The path with its vertices in rounded page points (use with ``transPt``), made for
        print (:class:`~mbm_sig.maps.output.pdfpath.PrintPath`: a layer is simplified for print
        before, ``simplify_mm``; matplotlib would simplify and clip its outlines again)."""
        from mbm_sig.maps.output.pdfpath import PrintPath
        if path is None:
            return None
        x0, y0, sx, sy, lx, by = self._pt
        v = np.empty_like(path.vertices)
        v[:, 0] = np.round((path.vertices[:, 0] - x0) * sx + lx, self.PRECISION)
        v[:, 1] = np.round((path.vertices[:, 1] - y0) * sy + by, self.PRECISION)
        out = PrintPath(v, path.codes)
        out.should_simplify = False
        return out

    def draw_path(self, path, **style):
        """Draw a layer's path (ground coordinates, simplified and cut for print by
        :mod:`mbm_sig.maps.geom`) in page points, clipped to the frame; ``style``: a
        PathPatch's properties."""
        return self.add_artist(PathPatch(self.to_points(path), transform=self.transPt, **style))

    def add_artist(self, artist):
        artist.set_clip_box(self.clip)
        artist.set_clip_on(True)
        self.fig.add_artist(artist)
        return artist

    def add_collection(self, col, autolim=False):
        return self.add_artist(col)


class Title:
    """Title and subtitle lines (already wrapped to the page width)."""

    TITLE, SUBTITLE = 15.0, 9.5

    def __init__(self, title: list[str], subtitle: list[str]):
        self.title, self.subtitle = title, subtitle

    def size(self) -> tuple[float, float]:
        w = max([measure(s, self.TITLE, "bold")[0] for s in self.title]
                + [measure(s, self.SUBTITLE)[0] for s in self.subtitle] + [0.0])
        return w, len(self.title) * line_height(self.TITLE, 1.15) + len(self.subtitle) * line_height(self.SUBTITLE)

    def draw(self, page: Page, x: float, y: float) -> Box:
        yt = y
        if self.title:
            yt = page.lines(x, yt, self.title, self.TITLE, weight="bold", spacing=1.15)
        if self.subtitle:
            page.lines(x, yt + 0.5, self.subtitle, self.SUBTITLE, color=GREY)
        return (x, y, *self.size())


FURNITURE_Z = 2.8      # scale bar and north arrow: above the layers and the focus veil (2.5)


class ScaleBar:
    """Metric scale bar (1-2-5 length near ``fraction`` of the frame width), on a white box."""

    LABEL = 6.5

    def __init__(self, frame_w: float, m_per_mm: float, fraction: float = 0.2):
        length_m = nice_length(fraction * frame_w * m_per_mm)
        lead = length_m / 10 ** math.floor(math.log10(length_m))
        self.nseg = {1: 4, 2: 4, 5: 5}.get(int(round(lead)), 4)
        self.bar_mm = length_m / m_per_mm
        self.length_m = length_m
        unit, val = ("km", length_m / 1000) if length_m >= 1000 else ("m", length_m)
        self.label = f"{fmt.num(val, 0 if val >= 1 else 1)}\u00a0{unit}"

    def size(self) -> tuple[float, float]:
        return self.bar_mm + measure(self.label, self.LABEL)[0] / 2 + 4, 7.2

    def anchor(self, frame: Box) -> tuple[float, float]:
        """Its place in a map frame: the bar's left end 4 mm in, 5 mm above the bottom."""
        fx0, fy0, fw, fh = frame
        return fx0 + 4, fy0 + fh - 5

    def draw_at(self, page: Page, x: float, y: float) -> Box:
        """Draw with the bar's left end at (x, y) (its baseline): returns the box."""
        box = (x - 1.5, y - 5.2, *self.size())
        # above the map's layers and the focus veil (zorder 2.5), under the labels
        page.rect(*box, facecolor="white", edgecolor="none", alpha=0.75, zorder=FURNITURE_Z)
        seg = self.bar_mm / self.nseg
        for i in range(self.nseg):
            page.rect(x + i * seg, y, seg, 1.2, facecolor=INK if i % 2 == 0 else "white", edgecolor=INK,
                      linewidth=0.4, zorder=FURNITURE_Z)
        page.text(x, y - 1.0, "0", size=self.LABEL, ha="center")
        page.text(x + self.bar_mm, y - 1.0, self.label, size=self.LABEL, ha="center")
        return box

    def draw(self, page: Page, x: float, y: float) -> Box:
        return self.draw_at(page, x + 1.5, y + 5.2)


class NorthArrow:
    """Half-filled north arrow with its «N»."""

    def __init__(self, size: float = 10.0):
        self.h, self.w = size, size * 0.45

    def size(self) -> tuple[float, float]:
        return self.w + 2, self.h + 4.5

    def anchor(self, frame: Box) -> tuple[float, float]:
        """Its place in a map frame: the axis 7 mm from the right edge, 4 mm below the top."""
        fx0, fy0, fw, fh = frame
        return fx0 + fw - 7, fy0 + 4

    def draw_at(self, page: Page, cx: float, top: float) -> Box:
        h, w = self.h, self.w
        tip, base_y, notch = (cx, top + 3.5), top + 3.5 + h, top + 3.5 + h * 0.72
        page.poly([tip, (cx - w / 2, base_y), (cx, notch)], facecolor=INK, edgecolor=INK, linewidth=0.4,
                  zorder=FURNITURE_Z)
        page.poly([tip, (cx + w / 2, base_y), (cx, notch)], facecolor="white", edgecolor=INK, linewidth=0.4,
                  zorder=FURNITURE_Z)
        # white halo as a stroke-only path under the real text (a path effect on the text
        # itself would turn the letter into outlines)
        page.text(cx, top + 2.6, "N", size=8, ha="center", weight="bold", color="white",
                  path_effects=[patheffects.Stroke(linewidth=2, foreground="white")])
        page.text(cx, top + 2.6, "N", size=8, ha="center", weight="bold")
        return (cx - w / 2 - 1, top, w + 2, h + 4.5)

    def draw(self, page: Page, x: float, y: float) -> Box:
        return self.draw_at(page, x + self.w / 2 + 1, y)


class Stamp:
    """«DONNÉES FICTIVES» across a frame, along its diagonal."""

    def __init__(self, w: float, h: float, text: str = "DONNÉES FICTIVES"):
        self.w, self.h, self.text = w, h, text

    def size(self) -> tuple[float, float]:
        return self.w, self.h

    def draw(self, page: Page, x: float, y: float) -> Box:
        fw, fh = self.w, self.h
        angle = math.degrees(math.atan2(fh, fw))
        size = min(fw, fh) / 7 / PT_MM
        page.text(x + fw / 2, y + fh / 2, self.text, size=size, ha="center", va="center", weight="bold",
                  color="#c0392b", alpha=0.28, rotation=angle, rotation_mode="anchor")
        return (x, y, fw, fh)


class Credits:
    """The credits lines (already wrapped): sources, notes, «Réalisation»."""

    SIZE = 6.0

    def __init__(self, lines: list[str], width: float | None = None):
        self.lines, self.width = lines, width

    def size(self) -> tuple[float, float]:
        w = self.width or max([measure(s, self.SIZE)[0] for s in self.lines] + [0.0])
        return w, len(self.lines) * line_height(self.SIZE)

    def draw(self, page: Page, x: float, y: float) -> Box:
        if self.lines:
            page.lines(x, y, self.lines, self.SIZE, color=GREY)
        return (x, y, *self.size())


class Inset:
    """Locator map: the inset layer, its context outlined, the sheet's extent in red."""

    def __init__(self, spec: dict, extent, w: float, h: float):
        self.spec, self.extent, self.w, self.h = spec, extent, w, h

    def size(self) -> tuple[float, float]:
        return self.w, self.h

    def draw(self, page: Page, x: float, y: float) -> Box:
        w, h, ins = self.w, self.h, self.spec
        g = ins["geoms"]
        b = shapely.total_bounds(g)
        ix0, iy0, ix1, iy1 = fit_extent(b, w / h, 0.08)
        tol = 0.2 * (ix1 - ix0) / w
        ax = MapFrame(page.fig, page.frac_rect(x, y, w, h), (ix0, iy0, ix1, iy1))
        p = _inset_path(g, tol)
        if p is not None:
            ax.add_artist(PathPatch(p, facecolor=ins["fill"], edgecolor=ins["edgecolor"], linewidth=0.4,
                                    transform=ax.transData))
        if ins["context"] is not None:
            lp = geom.line_path(shapely.simplify(ins["context"], tol))
            if lp is not None:
                ax.add_artist(PathPatch(lp, fill=False, edgecolor="#b2182b", linewidth=0.5, linestyle="--",
                                        transform=ax.transData))
        ex0, ey0, ex1, ey1 = self.extent
        ax.add_artist(Rectangle((ex0, ey0), ex1 - ex0, ey1 - ey0, fill=False, edgecolor="#c0392b",
                                linewidth=1.0, transform=ax.transData))
        page.rect(x, y, w, h, facecolor="none", edgecolor=GREY, linewidth=0.4)
        if ins["title"]:
            page.text(x + 1.5, y + h - 1.5, ins["title"], size=5.5, color=GREY)
        return (x, y, w, h)


class Logo:
    """An image (PNG…) ``width`` mm wide, its height from its aspect."""

    def __init__(self, path: str, width: float):
        self.path, self.width = path, width
        self._img = None

    def image(self):
        if self._img is None:
            import matplotlib.image as mpimg
            self._img = mpimg.imread(self.path)
        return self._img

    def size(self) -> tuple[float, float]:
        img = self.image()
        return self.width, self.width * img.shape[0] / img.shape[1]

    def draw(self, page: Page, x: float, y: float) -> Box:
        w, h = self.size()
        ax = page.fig.add_axes(page.frac_rect(x, y, w, h))
        ax.imshow(self.image(), interpolation="none")
        ax.set_axis_off()
        return (x, y, w, h)


def draw_basemap(fig, rect, ext, source, alpha: float) -> None:
    """Tile or raster basemap under the frame (contextily); offline, a missing file or an
    unknown provider is one line on stderr and the sheet renders without it."""
    src = source
    bax = fig.add_axes(rect, zorder=-1)
    bax.set_xlim(ext[0], ext[2])
    bax.set_ylim(ext[1], ext[3])
    bax.set_axis_off()
    try:
        import contextily as cx
        if isinstance(src, str) and not os.path.exists(src) and "." in src and "/" not in src:
            prov = cx.providers
            for part in src.split("."):
                prov = prov[part]
            src = prov
        elif isinstance(src, str) and not os.path.exists(src):
            raise FileNotFoundError(f"raster {src} not found")
        cx.add_basemap(bax, source=src, crs="EPSG:2154", attribution=False, alpha=alpha, reset_extent=True)
    except Exception as exc:     # offline, missing file, unknown provider: never fatal
        print(f"mbm-sig: fond de carte indisponible, carte rendue sans ({type(exc).__name__}: "
              f"{str(exc).splitlines()[0][:120] if str(exc) else ''})", file=sys.stderr)
        fig.delaxes(bax)
