#!/usr/bin/python3
"""QGIS side of bench/bench_whole.py and bench/bench_scale.py: the whole-process equivalent of
an `mbm-sig atlas` run, in PyQGIS (run with Debian's interpreter, which holds PyQGIS):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 bench/qgis_whole.py SPEC.json

SPEC (written by the benchmark from the catalogue and the atlas plan):
  {"gpkg": path, "pdf": path, "json": path, "export_reps": 1,
   "mode": "pages", "pages": [{"kind": "map", "title": ..., "extent": [x0, y0, x1, y1],
                               "layers": [{"layer": name, "subset": SQL or null,
                                           "var": field or null}]},
                              {"kind": "text", "title": ..., "lines": [...]}]}
  or "mode": "atlas", "atlas": {"layer": name, "subset": SQL, "sort": field, "var": field or expression,
                                "labels": field (optional: every feature named by it),
                                "title": expression, "margin": 1.5}
Per run: QgsApplication init, the layers read from the catalogue GeoPackage (ogr provider),
graduated renderers (6 quantile classes) or single symbols, the layouts (title, map, legend,
scale bar, north arrow, credits) and the export of every page to one vector PDF. "pages"
makes one multi-page layout (one page per atlas page: map pages with their own layer set,
text pages with labels); "atlas" is QGIS's atlas (coverage layer, map driven by it).
With export_reps > 1 the export is repeated in the open project (QGIS's warm re-export).
Timings (time.perf_counter, from the interpreter's start of this script) go to SPEC["json"].
"""
import json
import os
import sys
import time

T_START = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsClassificationQuantile,
    QgsColorBrewerColorRamp,
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsFillSymbol,
    QgsGraduatedSymbolRenderer,
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutItemPage,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsPalLayerSettings,
    QgsPrintLayout,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
    QgsScaleBarSettings,
    QgsSingleSymbolRenderer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import Qt  # noqa: E402
from qgis.PyQt.QtGui import QColor, QFont  # noqa: E402

FONT = "DejaVu Sans"
PAGE_W, PAGE_H = 210.0, 297.0
MAP_X, MAP_Y, MAP_W, MAP_H = 10.0, 25.0, 190.0, 215.0


def label(layout, text, x, y, w, h, size, bold=False, page=0, expr=False):
    lab = QgsLayoutItemLabel(layout)
    lab.setText(text)
    f = QFont(FONT)
    f.setPointSizeF(size)
    f.setBold(bold)
    lab.setFont(f)
    lab.setVAlign(Qt.AlignVCenter)
    layout.addLayoutItem(lab)
    lab.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters), page=page)
    lab.attemptResize(QgsLayoutSize(w, h, QgsUnitTypes.LayoutMillimeters))
    return lab


def styled_layer(gpkg, name, subset, var, cache, hollow=False):
    """A layer of the catalogue GeoPackage with a 6-class quantile renderer on ``var`` (or a
    thin single symbol); each (layer, subset, var) is its own QgsVectorLayer, as a QGIS
    project holding one styled layer per map would."""
    key = (name, subset, var, hollow)
    if key in cache:
        return cache[key]
    lyr = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    if not lyr.isValid():
        raise RuntimeError(f"cannot read layer {name} of {gpkg}")
    if subset:
        lyr.setSubsetString(subset)
    # a field, or an expression of fields the layer has (a density: "population" / "superficie_km2")
    refs = QgsExpression(var).referencedColumns() if var else set()
    if var and (lyr.fields().indexOf(var) >= 0 or (refs and all(lyr.fields().indexOf(c) >= 0 for c in refs))):
        r = QgsGraduatedSymbolRenderer(var)
        r.setClassificationMethod(QgsClassificationQuantile())
        r.setSourceSymbol(QgsFillSymbol.createSimple({"outline_color": "#808080", "outline_width": "0.1",
                                                      "outline_width_unit": "MM"}))
        r.updateClasses(lyr, 6)
        r.updateColorRamp(QgsColorBrewerColorRamp("YlOrRd", 6))
        lyr.setRenderer(r)
    else:
        lyr.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
            {"color": "#eeeeee", "style": "no" if hollow else "solid", "outline_color": "#808080",
             "outline_width": "0.12", "outline_width_unit": "MM"})))
    QgsProject.instance().addMapLayer(lyr, False)
    cache[key] = lyr
    return lyr


def map_furniture(layout, m, legend_layers, page=0):
    arrow = QgsLayoutItemPicture(layout)
    arrow.setPicturePath(os.path.join(QgsApplication.pkgDataPath(), "svg", "arrows", "NorthArrow_02.svg"))
    arrow.setLinkedMap(m)
    layout.addLayoutItem(arrow)
    arrow.attemptMove(QgsLayoutPoint(MAP_X + MAP_W - 16, MAP_Y + 3, QgsUnitTypes.LayoutMillimeters), page=page)
    arrow.attemptResize(QgsLayoutSize(12, 14, QgsUnitTypes.LayoutMillimeters))
    sb = QgsLayoutItemScaleBar(layout)
    sb.setStyle("Single Box")
    sb.setLinkedMap(m)
    sb.setUnits(QgsUnitTypes.DistanceKilometers)
    sb.setUnitLabel("km")
    sb.setNumberOfSegmentsLeft(0)
    sb.setNumberOfSegments(2)
    sb.setSegmentSizeMode(QgsScaleBarSettings.SegmentSizeFitWidth)
    sb.setMinimumBarWidth(15)
    sb.setMaximumBarWidth(25)
    tf = QgsTextFormat()
    tf.setFont(QFont(FONT))
    tf.setSize(8)
    sb.setTextFormat(tf)
    layout.addLayoutItem(sb)
    sb.attemptMove(QgsLayoutPoint(MAP_X + 3, MAP_Y + MAP_H - 14, QgsUnitTypes.LayoutMillimeters), page=page)
    leg = QgsLayoutItemLegend(layout)
    leg.setLinkedMap(m)
    leg.setAutoUpdateModel(False)
    root = leg.model().rootGroup()
    root.clear()
    for lyr in legend_layers:
        root.addLayer(lyr)
    leg.setColumnCount(2)
    layout.addLayoutItem(leg)
    leg.attemptMove(QgsLayoutPoint(MAP_X, MAP_Y + MAP_H + 3, QgsUnitTypes.LayoutMillimeters), page=page)
    leg.adjustBoxSize()
    label(layout, "Sources : catalogue mbm-sig (GeoPackage). Réalisation : banc d'essai QGIS.",
          MAP_X, PAGE_H - 14, MAP_W, 8, 6.5, page=page)


def fit(x0, y0, x1, y1, margin):
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    ratio = MAP_W / MAP_H
    if w / h < ratio:
        w = h * ratio
    else:
        h = w / ratio
    w, h = w * (1 + margin), h * (1 + margin)
    return QgsRectangle(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def pages_layout(spec):
    """One layout, one page per atlas page."""
    project = QgsProject.instance()
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    coll = layout.pageCollection()
    coll.page(0).setPageSize("A4", QgsLayoutItemPage.Portrait)
    for _ in spec["pages"][1:]:
        p = QgsLayoutItemPage(layout)
        p.setPageSize("A4", QgsLayoutItemPage.Portrait)
        coll.addPage(p)
    cache = {}
    for i, pg in enumerate(spec["pages"]):
        label(layout, pg["title"], MAP_X, 8, MAP_W, 14, 15, bold=True, page=i)
        if pg["kind"] != "map":
            label(layout, "\n".join(pg.get("lines", [])), MAP_X, 30, MAP_W, 240, 8, page=i)
            continue
        lyrs = [styled_layer(spec["gpkg"], L["layer"], L.get("subset"), L.get("var"), cache,
                             L.get("fill") == "none") for L in pg["layers"]]
        m = QgsLayoutItemMap(layout)
        m.setFrameEnabled(True)
        m.setLayers(list(reversed(lyrs)))
        m.setKeepLayerSet(True)
        layout.addLayoutItem(m)
        m.attemptMove(QgsLayoutPoint(MAP_X, MAP_Y, QgsUnitTypes.LayoutMillimeters), page=i)
        m.attemptResize(QgsLayoutSize(MAP_W, MAP_H, QgsUnitTypes.LayoutMillimeters))
        m.setExtent(fit(*pg["extent"], 0.05))
        shown = [ly for ly, L in zip(lyrs, pg["layers"], strict=True) if L.get("var")]
        map_furniture(layout, m, shown or lyrs[:1], page=i)
    return layout


def atlas_layout(spec):
    a = spec["atlas"]
    project = QgsProject.instance()
    cache = {}
    fill = styled_layer(spec["gpkg"], a["layer"], None, a["var"], cache)
    if a.get("labels"):
        # every feature named by this field, dark text with a white halo, as the recipe's towns
        pal = QgsPalLayerSettings()
        pal.fieldName = a["labels"]
        pal.placement = QgsPalLayerSettings.Horizontal
        fmt = QgsTextFormat()
        fmt.setFont(QFont("DejaVu Sans"))
        fmt.setSize(7)
        fmt.setColor(QColor("#1a1a1a"))
        buf = QgsTextBufferSettings()
        buf.setEnabled(True)
        buf.setSize(0.6)
        buf.setColor(QColor("#ffffff"))
        fmt.setBuffer(buf)
        pal.setFormat(fmt)
        fill.setLabeling(QgsVectorLayerSimpleLabeling(pal))
        fill.setLabelsEnabled(True)
    cov = QgsVectorLayer(f"{spec['gpkg']}|layername={a['layer']}", "coverage", "ogr")
    if a.get("subset"):
        cov.setSubsetString(a["subset"])
    cov.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"style": "no", "outline_color": "#222222", "outline_width": "0.56", "outline_width_unit": "MM"})))
    project.addMapLayer(cov, False)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.pageCollection().page(0).setPageSize("A4", QgsLayoutItemPage.Portrait)
    lab = label(layout, a["title"], MAP_X, 8, MAP_W, 14, 15, bold=True)
    lab.setText(a["title"])
    m = QgsLayoutItemMap(layout)
    m.setFrameEnabled(True)
    m.setLayers([cov, fill])
    m.setKeepLayerSet(True)
    layout.addLayoutItem(m)
    m.attemptMove(QgsLayoutPoint(MAP_X, MAP_Y, QgsUnitTypes.LayoutMillimeters))
    m.attemptResize(QgsLayoutSize(MAP_W, MAP_H, QgsUnitTypes.LayoutMillimeters))
    e = fill.extent()
    m.setExtent(fit(e.xMinimum(), e.yMinimum(), e.xMaximum(), e.yMaximum(), 0.05))
    m.setAtlasDriven(True)
    m.setAtlasScalingMode(QgsLayoutItemMap.Auto)
    m.setAtlasMargin(a.get("margin", 0.05))
    map_furniture(layout, m, [fill])
    atlas = layout.atlas()
    atlas.setCoverageLayer(cov)
    atlas.setEnabled(True)
    atlas.setHideCoverage(False)
    atlas.setSortFeatures(True)
    atlas.setSortExpression(f'"{a["sort"]}"')
    return layout


def pdf_settings():
    s = QgsLayoutExporter.PdfExportSettings()
    s.dpi = 300
    s.rasterizeWholeImage = False
    s.forceVectorOutput = True
    s.textRenderFormat = QgsRenderContext.TextFormatAlwaysText
    return s


def main():
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    t = {"import_s": time.perf_counter() - T_START}
    t0 = time.perf_counter()
    qgs = QgsApplication([], False)
    qgs.setPrefixPath("/usr", True)
    qgs.initQgis()
    QgsProject.instance().setCrs(QgsCoordinateReferenceSystem("EPSG:2154"))
    t["init_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    layout = atlas_layout(spec) if spec["mode"] == "atlas" else pages_layout(spec)
    t["setup_s"] = time.perf_counter() - t0
    t["first_page_work_s"] = time.perf_counter() - T_START
    exports, export_cpu = [], []
    for _ in range(int(spec.get("export_reps", 1))):
        if os.path.exists(spec["pdf"]):
            os.remove(spec["pdf"])
        t0, c0 = time.perf_counter(), time.process_time()
        if spec["mode"] == "atlas":
            res, err = QgsLayoutExporter.exportToPdf(layout.atlas(), spec["pdf"], pdf_settings())
        else:
            res, err = QgsLayoutExporter(layout).exportToPdf(spec["pdf"], pdf_settings()), ""
        if res != QgsLayoutExporter.Success:
            raise RuntimeError(f"QGIS export failed: {res} {err}")
        exports.append(time.perf_counter() - t0)
        export_cpu.append(time.process_time() - c0)     # every thread of the process
    t["export_s"] = exports
    t["export_cpu_s"] = export_cpu
    t["pages"] = layout.atlas().count() if spec["mode"] == "atlas" else layout.pageCollection().pageCount()
    t["total_s"] = time.perf_counter() - T_START
    with open(spec["json"], "w", encoding="utf-8") as fh:
        json.dump(t, fh)
    qgs.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
