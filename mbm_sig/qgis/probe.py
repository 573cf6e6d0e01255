"""What QGIS makes of the catalogue's files: run with the Python that has PyQGIS.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 probe.py layers SOURCE…
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 probe.py project FILE.qgz [LAYOUT OUT.pdf]
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 probe.py sld SOURCE FILE.sld

``SOURCE`` is a QGIS data source with its provider: ``ogr:/path/x.gpkg|layername=communes``
or ``postgres:dbname=… table="mbm"."communes" (geom)``. Prints one JSON document on stdout:
for each layer its validity, CRS, the default style QGIS loaded (renderer type, categories,
classes, colours), field aliases, title and abstract; for a project its layers, groups,
layouts and atlases, and, when asked, the PDF a layout exports (with its page count).

Standard library and PyQGIS only: the system Python runs it, not the project's venv.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (QgsApplication, QgsLayoutExporter, QgsProject, QgsVectorLayer,  # noqa: E402
                       QgsLayoutItemMap, QgsLayoutItemLegend, QgsLayoutItemScaleBar,
                       QgsLayoutItemLabel, QgsLayoutItemPicture, QgsPalLayerSettings)


def color(c):
    return c.name() if c is not None else None


def symbol_info(sym):
    if sym is None:
        return None
    out = {"type": sym.type(), "color": color(sym.color()), "opacity": round(sym.opacity(), 3)}
    sl = sym.symbolLayer(0)
    props = sl.properties() if sl is not None else {}
    for k in ("outline_color", "line_color", "outline_width", "line_width", "size", "name", "style",
              "outline_style", "line_style"):
        if k in props:
            out[k] = props[k]
    return out


def renderer_info(r):
    if r is None:
        return None
    out = {"type": r.type()}
    if r.type() == "singleSymbol":
        out["symbol"] = symbol_info(r.symbol())
    elif r.type() == "categorizedSymbol":
        out["attr"] = r.classAttribute()
        out["categories"] = [{"value": c.value(), "label": c.label(), "symbol": symbol_info(c.symbol())}
                             for c in r.categories()]
    elif r.type() == "graduatedSymbol":
        out["attr"] = r.classAttribute()
        out["ranges"] = [{"lower": g.lowerValue(), "upper": g.upperValue(), "label": g.label(),
                          "symbol": symbol_info(g.symbol())} for g in r.ranges()]
    return out


def layer_info(layer, load_default=True):
    out = {"name": layer.name(), "valid": layer.isValid()}
    if not layer.isValid():
        return out
    if load_default:
        msg, ok = layer.loadDefaultStyle()
        out["default_style"] = {"loaded": bool(ok), "message": msg}
    out.update({
        "crs": layer.crs().authid(),
        "features": layer.featureCount(),
        "geometry_type": layer.geometryType(),
        "renderer": renderer_info(layer.renderer()) if layer.isSpatial() else None,
        "aliases": {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())
                    if layer.attributeAlias(i)},
        "field_types": {f.name(): f.typeName() for f in layer.fields()},
        "title": layer.metadata().title() or layer.title(),
        "abstract": layer.metadata().abstract() or layer.abstract(),
        "opacity": layer.opacity(),
        "subset": layer.subsetString(),
        "labels": None,
    })
    if layer.labelsEnabled() and layer.labeling() is not None:
        ls = layer.labeling().settings()
        fmt = ls.format()
        out["labels"] = {"field": ls.fieldName, "expression": bool(ls.isExpression),
                         "size": fmt.size(), "color": fmt.color().name(), "bold": fmt.font().bold(),
                         "halo": fmt.buffer().enabled(), "placement": int(ls.placement),
                         "max_labels": ls.maxNumLabels if ls.limitNumLabels else None,
                         "priority": ls.dataDefinedProperties().property(QgsPalLayerSettings.Priority).expressionString()}
    return out


def probe_layers(sources):
    out = []
    for src in sources:
        provider, uri = src.split(":", 1)
        layer = QgsVectorLayer(uri, "probe", provider)
        info = layer_info(layer)
        info["source"] = src
        if layer.isValid():
            n, ids, names, descs, err = layer.listStylesInDatabase()
            info["styles_in_database"] = {"default_count": n, "names": list(names), "error": err}
        out.append(info)
    return out


def probe_sld(source, sld_path):
    """A layer styled from an SLD file: what QGIS makes of it (a rule-based renderer)."""
    provider, uri = source.split(":", 1)
    layer = QgsVectorLayer(uri, "probe", provider)
    msg, ok = layer.loadSldStyle(sld_path)
    out = {"loaded": bool(ok), "message": msg, "renderer": layer.renderer().type() if layer.renderer() else None}
    r = layer.renderer()
    if r is not None and r.type() == "RuleRenderer":
        out["rules"] = [{"label": c.label(), "filter": c.filterExpression(), "symbol": symbol_info(c.symbol())}
                        for c in r.rootRule().children()]
    return out


def tree(node):
    from qgis.core import QgsLayerTreeGroup
    out = []
    for child in node.children():
        if isinstance(child, QgsLayerTreeGroup):
            out.append({"group": child.name(), "children": tree(child)})
        else:
            out.append({"layer": child.layerId(), "name": child.name(), "visible": child.isVisible()})
    return out


def probe_project(path, layout_name=None, pdf=None, png_dir=None):
    project = QgsProject.instance()
    ok = project.read(path)
    out = {"read": ok, "crs": project.crs().authid(), "title": project.title(),
           "metadata": {"title": project.metadata().title(), "abstract": project.metadata().abstract(),
                        "author": project.metadata().author()},
           "layers": {}, "tree": tree(project.layerTreeRoot()), "layouts": {},
           "map_themes": project.mapThemeCollection().mapThemes()}
    for lid, layer in project.mapLayers().items():
        info = layer_info(layer, load_default=False)
        info["source"] = layer.source()
        out["layers"][lid] = info
    for layout in project.layoutManager().printLayouts():
        items = [i for i in layout.items() if hasattr(i, "uuid")]
        kinds = {}
        for i in items:
            for cls, key in ((QgsLayoutItemMap, "map"), (QgsLayoutItemLegend, "legend"),
                             (QgsLayoutItemScaleBar, "scalebar"), (QgsLayoutItemLabel, "label"),
                             (QgsLayoutItemPicture, "picture")):
                if isinstance(i, cls):
                    kinds[key] = kinds.get(key, 0) + 1
        labels = [i.text() for i in items if isinstance(i, QgsLayoutItemLabel)]
        maps = [i for i in items if isinstance(i, QgsLayoutItemMap)]
        atlas = layout.atlas()
        info = {"items": kinds, "labels": labels, "pages": layout.pageCollection().pageCount(),
                "maps": [{"theme": m.followVisibilityPreset() and m.followVisibilityPresetName(),
                          "clipped_layers": [x.id() for x in m.atlasClippingSettings().layersToClip()]
                          if m.atlasClippingSettings().enabled() else [],
                          "atlas_driven": m.atlasDriven(), "extent": [m.extent().xMinimum(), m.extent().yMinimum(),
                                                                      m.extent().xMaximum(), m.extent().yMaximum()]}
                         for m in maps],
                "atlas": None}
        if atlas.enabled():
            atlas.updateFeatures()
            info["atlas"] = {"coverage": atlas.coverageLayer().name() if atlas.coverageLayer() else None,
                             "filter": atlas.filterExpression() if atlas.filterFeatures() else None,
                             "sort": atlas.sortExpression() if atlas.sortFeatures() else None,
                             "page_name": atlas.pageNameExpression(), "count": atlas.count(),
                             "page_names": []}
            if atlas.count():
                atlas.beginRender()
                for k in range(atlas.count()):
                    atlas.seekTo(k)
                    info["atlas"]["page_names"].append(atlas.nameForPage(k))
                atlas.endRender()
        out["layouts"][layout.name()] = info
    if layout_name:
        layout = project.layoutManager().layoutByName(layout_name)
        settings = QgsLayoutExporter.PdfExportSettings()
        settings.dpi = 100
        settings.rasterizeWholeImage = False
        if layout.atlas().enabled():
            res, err = QgsLayoutExporter.exportToPdf(layout.atlas(), pdf, settings)
        else:
            res, err = QgsLayoutExporter(layout).exportToPdf(pdf, settings), ""
        out["export"] = {"result": int(res), "error": err, "pdf": pdf}
        if png_dir:
            img = QgsLayoutExporter.ImageExportSettings()
            img.dpi = 60
            exporter = QgsLayoutExporter(layout)
            if layout.atlas().enabled():
                layout.atlas().beginRender()
                layout.atlas().first()
            exporter.exportToImage(os.path.join(png_dir, "page.png"), img)
            if layout.atlas().enabled():
                layout.atlas().endRender()
    return out


def main(argv):
    app = QgsApplication([], False)
    app.initQgis()
    try:
        if argv[0] == "layers":
            result = probe_layers(argv[1:])
        elif argv[0] == "project":
            result = probe_project(*argv[1:])
        elif argv[0] == "sld":
            result = probe_sld(*argv[1:])
        else:
            raise SystemExit(f"probe.py: unknown command {argv[0]!r} (layers, project)")
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()
    finally:
        QgsProject.instance().clear()
    os._exit(0)           # QGIS' exit handlers may crash offscreen: the JSON is written


if __name__ == "__main__":
    main(sys.argv[1:])
