"""QGIS default styles stored where QGIS reads them: the ``layer_styles`` table.

QGIS (3.22, providers ``ogr`` and ``postgres``) looks for a layer's default style in a
table ``layer_styles`` of the same database; the columns and types below are those QGIS
itself creates (checked against QGIS 3.22's ``saveStyleToDatabase`` on both providers).

- GeoPackage: the table lives in the file, registered in ``gpkg_contents`` as attributes
  (as GDAL registers it for QGIS); ``gpkg_contents.identifier``/``description`` get the
  layer's title and abstract, which QGIS shows as the layer's metadata.
- PostGIS: QGIS reads and creates ``layer_styles`` unqualified, i.e. in the first schema of
  the connecting role's default ``search_path`` that exists (``"$user", public``: the
  schema named like the role, else ``public``); rows name the layers' schema in
  ``f_table_schema``. The table comment carries the layer's abstract.

Only the rows named :data:`STYLE_NAME` are ours: they are replaced on every write; styles a
user saved from QGIS stay (no longer marked default for a layer we style).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path


STYLE_NAME = "mbm-sig"
MARK = "style mbm-sig"       # marks the .qml/.sld files we write beside exports (ours to replace)
GPKG_VERSION = 10200        # GeoPackage 1.2 (PRAGMA user_version)
TABLE = "layer_styles"
SKIP = {"mbm_imports", TABLE}

GPKG_DDL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    '"update_time" DATETIME DEFAULT (strftime(\'%Y-%m-%dT%H:%M:%fZ\',\'now\')))')
GPKG_TRIGGERS = (
    'CREATE TRIGGER IF NOT EXISTS "trigger_insert_feature_count_layer_styles" AFTER INSERT ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER IF NOT EXISTS "trigger_delete_feature_count_layer_styles" AFTER DELETE ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END")

PG_DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (id SERIAL PRIMARY KEY, f_table_catalog varchar, f_table_schema varchar, "
    "f_table_name varchar, f_geometry_column varchar, styleName text, styleQML xml, styleSLD xml, "
    "useAsDefault boolean, description text, owner varchar(63) DEFAULT CURRENT_USER, ui xml, "
    "update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def style_documents(ld) -> tuple[str, str | None, str | None]:
    """(QML, SLD or None, layer_styles.type or None) of a layer's default style."""
    from mbm_sig.qgis import symbols
    if not ld.has_geometry or ld.geometry not in symbols.GEOMETRY_KIND:
        # no geometry, or several types (one QGIS symbol type per layer): aliases only
        return symbols.qml(ld), None, None
    st = symbols.layer_style(ld)
    return symbols.qml(ld, st), symbols.sld(ld, st), symbols.GEOMETRY_TYPE_NAME[st.geometry]


def _definitions(defs):
    if defs is None:
        from mbm_sig.catalogue.layerdef import load_layers
        defs = load_layers()
    return defs


# ------------------------------------------------------------------------- GeoPackage

def write_gpkg_styles(path: str | Path, names=None, defs=None) -> list[str]:
    """Write (replace) the default QGIS styles of the defined layers present in the
    GeoPackage ``path`` (or of ``names`` only), with title and abstract in
    ``gpkg_contents``. One transaction; returns the layers styled."""
    defs = _definitions(defs)
    con = sqlite3.connect(str(path))
    try:
        with con:
            present = {r[0]: r[1] for r in con.execute(
                "SELECT c.table_name, g.column_name FROM gpkg_contents c LEFT JOIN gpkg_geometry_columns g "
                "ON lower(g.table_name) = lower(c.table_name)")}
            todo = [n for n in (names if names is not None else present) if n in present and n in defs
                    and n not in SKIP]
            if con.execute("PRAGMA user_version").fetchone()[0] > GPKG_VERSION:
                # a catalogue written as 1.4 by an earlier version: it uses nothing of 1.3/1.4
                # but the R-tree update triggers, which SQLite runs whatever the version says
                con.execute(f"PRAGMA user_version = {GPKG_VERSION}")
            if not todo:
                return []
            con.execute(GPKG_DDL)
            has_ogr = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone()
            if TABLE not in present:
                con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                            "last_change) VALUES (?, 'attributes', ?, '', ?)", (TABLE, TABLE, _now()))
                if has_ogr:
                    con.execute("INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, feature_count) "
                                "VALUES (?, (SELECT count(*) FROM layer_styles))", (TABLE,))
            if has_ogr:
                for trig in GPKG_TRIGGERS:
                    con.execute(trig)
            now = _now()
            for name in todo:
                ld = defs[name]
                qml, sld, _ = style_documents(ld)
                geomcol = present[name] or ""
                con.execute('DELETE FROM layer_styles WHERE f_table_name = ? AND "styleName" = ?',
                            (name, STYLE_NAME))
                con.execute('UPDATE layer_styles SET "useAsDefault" = 0 WHERE f_table_name = ?', (name,))
                con.execute(
                    'INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, '
                    '"styleName", "styleQML", "styleSLD", "useAsDefault", description, owner, ui, update_time) '
                    "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', '', ?)",
                    (name, geomcol, STYLE_NAME, qml, sld or "", _description(ld), now))
                con.execute("UPDATE gpkg_contents SET identifier = ?, description = ? WHERE table_name = ?",
                            (ld.title, ld.description, name))
            return todo
    finally:
        con.close()


def _description(ld) -> str:
    return f"{ld.title}. {ld.description}".strip() if ld.description else ld.title


# ------------------------------------------------------------------------- PostGIS

def qgis_style_schema(con) -> str:
    """The schema where QGIS finds ``layer_styles`` for this role: the first existing
    schema of the role's default search_path (role/database settings, else the server
    default ``"$user", public``), not the search_path our own connections set."""
    import sqlalchemy as sa
    row = con.execute(sa.text(
        "SELECT c FROM pg_db_role_setting s, unnest(s.setconfig) c "
        "WHERE c LIKE 'search_path=%' AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user)) "
        "AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) "
        "ORDER BY (s.setrole <> 0 AND s.setdatabase <> 0) DESC, (s.setrole <> 0) DESC LIMIT 1")).first()
    path = row[0].split("=", 1)[1] if row else con.execute(sa.text(
        "SELECT boot_val FROM pg_settings WHERE name = 'search_path'")).scalar_one()
    user = con.execute(sa.text("SELECT current_user")).scalar_one()
    for part in path.split(","):
        name = part.strip().strip('"')
        if name == "$user":
            name = user
        if con.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :n"), {"n": name}).first():
            return name
    return "public"


def write_postgis_styles(con, schema: str, names, defs=None) -> list[str]:
    """Write (replace) the default QGIS styles of ``names`` (tables of ``schema``) inside
    the caller's transaction ``con``; returns the layers styled."""
    import sqlalchemy as sa
    defs = _definitions(defs)
    todo = [n for n in names if n in defs and n not in SKIP]
    if not todo:
        return []
    try:
        with con.begin_nested():        # a role that may not create the table still writes its data
            return _write_postgis_styles(con, schema, todo, defs)
    except sa.exc.DBAPIError as exc:
        import warnings
        warnings.warn(f"QGIS styles not written to PostGIS ({str(exc.orig).strip().splitlines()[0]})",
                      RuntimeWarning, stacklevel=2)
        return []


def _write_postgis_styles(con, schema: str, todo, defs) -> list[str]:
    import sqlalchemy as sa
    from mbm_sig.catalogue.postgis import q
    where = qgis_style_schema(con)
    t = f"{q(where)}.{TABLE}"
    con.execute(sa.text(PG_DDL.format(t=t)))
    con.execute(sa.text(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS type varchar"))   # as QGIS 3.22 does
    catalog = con.execute(sa.text("SELECT current_database()")).scalar_one()
    for name in todo:
        ld = defs[name]
        qml, sld, gtype = style_documents(ld)
        con.execute(sa.text(f"DELETE FROM {t} WHERE f_table_catalog = :c AND f_table_schema = :s "
                            "AND f_table_name = :n AND stylename = :sn"),
                    {"c": catalog, "s": schema, "n": name, "sn": STYLE_NAME})
        con.execute(sa.text(f"UPDATE {t} SET useasdefault = false WHERE f_table_catalog = :c "
                            "AND f_table_schema = :s AND f_table_name = :n"),
                    {"c": catalog, "s": schema, "n": name})
        con.execute(sa.text(
            f"INSERT INTO {t} (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, stylename, "
            "styleqml, stylesld, useasdefault, description, ui, type) VALUES (:c, :s, :n, :g, :sn, "
            "XMLPARSE(DOCUMENT :qml), XMLPARSE(DOCUMENT :sld), true, :d, NULL, :ty)"),
            {"c": catalog, "s": schema, "n": name, "g": "geom" if ld.has_geometry else "", "sn": STYLE_NAME,
             "qml": qml, "sld": sld, "d": _description(ld), "ty": gtype})
        con.execute(sa.text(f"COMMENT ON TABLE {q(schema)}.{q(name)} IS "
                            + "'" + _description(ld).replace("'", "''") + "'"))
    return todo


def GPKG_CREATE(path) -> dict:
    """pyogrio options for a GeoPackage write: a new file is GeoPackage 1.2, the version
    GDAL 3.6 (Debian 12's QGIS 3.22) reads without a warning (GDAL 3.12 writes 1.4)."""
    return {} if Path(path).exists() else {"dataset_options": {"VERSION": "1.2"}}


def write_export_style(path: str | Path, ld) -> list[Path]:
    """The QGIS default style of an exported layer: in a GeoPackage, its ``layer_styles``
    table (and version 1.2); next to a Shapefile, GeoJSON or FlatGeobuf, ``NAME.qml`` (which
    QGIS loads by itself when the file is opened) and ``NAME.sld``. Returns the files written."""
    from mbm_sig.atomic import atomic_write_text
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        write_gpkg_styles(path, [ld.name])
        return [path]
    if suffix not in (".shp", ".geojson", ".json", ".fgb") or not ld.has_geometry:
        return []
    qml, sld, _ = style_documents(ld)
    out = []
    for ext, text in ((".qml", qml), (".sld", sld)):
        target = path.with_suffix(ext)
        if not text:
            continue
        if target.exists() and MARK not in target.read_text(encoding="utf-8", errors="replace")[:2000]:
            import warnings     # a style the user made in QGIS: never overwritten
            warnings.warn(f"{target} exists and is not an mbm-sig style: left as it is", RuntimeWarning,
                          stacklevel=3)
            continue
        out.append(atomic_write_text(target, text.replace("\n", f"\n<!-- {MARK} -->\n", 1)))
    return out
