"""PostGIS backend (SQLAlchemy 2 + psycopg 3), same interface as the GeoPackage backend.

All layers live in one schema (default ``mbm``; ``?schema=NAME`` in the URL or the
environment variable ``MBM_SIG_PG_SCHEMA`` override it), next to the provenance table
``mbm_imports``. Geometry columns are ``geom``, typed ``geometry(<type>, 2154)`` with a GiST
index; the layer key gets a primary key (or a unique index).

Writes are atomic: :meth:`PostGISBackend.replace_layers` writes every frame into
``<name>__new``, drops the old table, renames the new one, builds the indexes and appends
the provenance rows, all in ONE transaction (PostgreSQL DDL is transactional). A failure,
or a client killed at any moment, rolls everything back: readers see either the old tables
or the new ones. Writers are serialised by a transaction-level advisory lock.

Values are read back with the same Arrow-to-pandas conversion pyogrio uses for the
GeoPackage, so both backends return the same dtypes (int64, or float64 when an integer
column has nulls; bool, or object when a boolean column has nulls; pandas strings;
float64).
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import sqlalchemy as sa

from mbm_sig.config import TARGET_CRS, TARGET_EPSG

LOG_TABLE = "mbm_imports"
LOG_COLUMNS = ["layer", "action", "source", "checksum", "rows", "imported_at", "tool_version"]
DEFAULT_SCHEMA = "mbm"
NEW_SUFFIX = "__new"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# PostgreSQL type OIDs -> Arrow types (the rest is inferred by Arrow, or left as objects)
_BOOL = {16}
_INT = {20, 21, 23, 26}
_FLOAT = {700, 701}
_NUMERIC = {1700}
_TEXT = {18, 19, 25, 1042, 1043}


def q(ident: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(ident).replace('"', '""') + '"'


def driver_url(url: str) -> sa.engine.URL:
    """``postgresql://``/``postgres://`` URL as an SQLAlchemy URL for psycopg 3, without the
    ``schema`` query parameter (ours, not libpq's)."""
    u = sa.engine.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url))
    return u.difference_update_query(["schema"])


def schema_of(url: str) -> str:
    u = sa.engine.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url))
    schema = u.query.get("schema") or os.environ.get("MBM_SIG_PG_SCHEMA") or DEFAULT_SCHEMA
    if isinstance(schema, tuple):
        schema = schema[-1]
    schema = unquote(schema)
    if not IDENT.match(schema):
        raise ValueError(f"invalid PostGIS schema name {schema!r} (letters, digits, underscore)")
    return schema


def _py(value):
    """A parameter value psycopg can adapt (numpy scalars -> Python scalars)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


class PostGISBackend:
    kind = "postgis"

    def __init__(self, url: str):
        self.url = url
        self.schema = schema_of(url)
        u = driver_url(url)
        options = f"-csearch_path={self.schema},public"
        if u.query.get("options"):
            options = f"{u.query['options']} {options}"
            u = u.difference_update_query(["options"])
        self.engine = sa.create_engine(u, connect_args={"options": options,
                                                        "application_name": "mbm-sig"})
        self._geometry_oids: set[int] | None = None

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"<PostGISBackend {self.engine.url.render_as_string(hide_password=True)} schema={self.schema}>"

    def _t(self, name: str) -> str:
        return f"{q(self.schema)}.{q(name)}"

    # -- reading ------------------------------------------------------------------------
    def exists(self) -> bool:
        with self.engine.connect() as con:
            return con.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                               {"s": self.schema}).first() is not None

    def _tables(self, con) -> list[str]:
        rows = con.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.oid"),
            {"s": self.schema}).scalars().all()
        return list(rows)

    def layer_names(self) -> list[str]:
        with self.engine.connect() as con:
            return [n for n in self._tables(con)
                    if n not in (LOG_TABLE, "spatial_ref_sys", "layer_styles") and not n.endswith(NEW_SUFFIX)]

    def count(self, name: str) -> int:
        with self.engine.connect() as con:
            return int(con.execute(sa.text(f"SELECT count(*) FROM {self._t(name)}")).scalar_one())

    def _geom_oids(self, con) -> set[int]:
        if self._geometry_oids is None:
            oids = con.execute(sa.text(
                "SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')")).scalars().all()
            self._geometry_oids = {int(o) for o in oids}
        return self._geometry_oids

    def _columns(self, con, name: str) -> list[str]:
        return list(con.execute(sa.text(
            "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relname = :t "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"),
            {"s": self.schema, "t": name}).scalars().all())

    def read(self, name: str, bbox=None, where=None, columns=None, has_geometry=True):
        with self.engine.connect() as con:
            present = self._columns(con, name)
            if not present:
                raise KeyError(name)
            if columns is None:
                cols = [c for c in present if c != "geom" or has_geometry]
            else:
                cols = list(columns) + (["geom"] if has_geometry and "geom" in present else [])
            missing = [c for c in list(cols) + list(where or {}) if c not in present]
            if missing:
                raise KeyError(f"layer {name} has no column {missing[0]!r}")
            conds, params, binds = [], {}, []
            for i, (field, value) in enumerate((where or {}).items()):
                p = f"w{i}"
                if value is None:
                    conds.append(f"{q(field)} IS NULL")
                elif isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
                    conds.append(f"{q(field)} IN :{p}")
                    params[p] = [_py(v) for v in value]
                    binds.append(sa.bindparam(p, expanding=True))
                else:
                    conds.append(f"{q(field)} = :{p}")
                    params[p] = _py(value)
            if bbox is not None and has_geometry and "geom" in present:
                xmin, ymin, xmax, ymax = (float(v) for v in bbox)
                params.update(xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax)
                # && uses the GiST index; ST_Intersects makes the test exact, as GDAL's
                # spatial filter on the GeoPackage does
                conds.append(f"geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, {TARGET_EPSG}) "
                             f"AND ST_Intersects(geom, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, {TARGET_EPSG}))")
            # geometries as EWKB bytea: decoded by psycopg in C, parsed by shapely without hex
            sel = ["ST_AsEWKB(geom) AS geom" if c == "geom" and has_geometry else q(c) for c in cols]
            query = (f"SELECT {', '.join(sel)} FROM {self._t(name)}"
                     + (" WHERE " + " AND ".join(conds) if conds else "")
                     + " ORDER BY ctid")      # insertion order, as the GeoPackage returns
            stmt = sa.text(query)
            if binds:
                stmt = stmt.bindparams(*binds)
            df = self._frame(con, con.execute(stmt, params), geometry="geom" if has_geometry else None,
                             force_wkb=True)
            if where:
                df = self._widen_like_gpkg(con, name, df, conds[len(where):], params)
        if has_geometry and not isinstance(df, gpd.GeoDataFrame):
            df = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df), crs=TARGET_CRS).values,
                                  crs=TARGET_CRS).rename_geometry("geom")
        if isinstance(df, gpd.GeoDataFrame) and (df.crs is None or df.crs.to_epsg() != TARGET_EPSG):
            df = df.set_crs(TARGET_CRS, allow_override=True)
        return df

    def _widen_like_gpkg(self, con, name, df, bbox_conds, params):
        """The GeoPackage backend filters ``where`` in pandas after reading the layer (or its
        bbox), so an integer or boolean column gets float64/object there when that larger set
        has a null. Give the same dtypes here."""
        narrow = [c for c in df.columns if c != "geom" and (
            pd.api.types.is_integer_dtype(df[c].dtype) or pd.api.types.is_bool_dtype(df[c].dtype))]
        if not narrow:
            return df
        query = (f"SELECT {', '.join(f'bool_or({q(c)} IS NULL)' for c in narrow)} FROM {self._t(name)}"
                 + (" WHERE " + " AND ".join(bbox_conds) if bbox_conds else ""))
        has_null = con.execute(sa.text(query), {k: v for k, v in params.items()
                                                if k in ("xmin", "ymin", "xmax", "ymax")}).first()
        for c, flag in zip(narrow, has_null):
            if flag:
                df[c] = df[c].astype("float64" if pd.api.types.is_integer_dtype(df[c].dtype) else object)
        return df

    def sql(self, query: str, params: dict | None = None):
        """Run ``query`` (``:name`` parameters bound by the driver) in a read-only transaction;
        a GeoDataFrame when the result has a geometry column (``geom`` preferred)."""
        params = {k: (list(v) if isinstance(v, (tuple, set)) else v) for k, v in (params or {}).items()}
        stmt = sa.text(query)
        lists = [k for k, v in params.items() if isinstance(v, (list, np.ndarray, pd.Series, pd.Index))]
        if lists:
            # a list parameter expands, as the GeoPackage backend's literal binding does: x IN :codes
            stmt = stmt.bindparams(*(sa.bindparam(k, expanding=True) for k in lists if k in stmt._bindparams))
            params = {k: ([_py(x) for x in v] if k in lists else _py(v)) for k, v in params.items()}
        else:
            params = {k: _py(v) for k, v in params.items()}
        with self.engine.connect() as con:
            con.execute(sa.text("SET TRANSACTION READ ONLY"))
            res = con.execute(stmt, params)
            if not res.returns_rows:
                return pd.DataFrame()
            df = self._frame(con, res, geometry="geom")
            con.rollback()
        return df

    def _frame(self, con, res, geometry: str | None, force_wkb: bool = False):
        """Rows of ``res`` as a (Geo)DataFrame, typed as pyogrio types GeoPackage reads."""
        desc = res.cursor.description
        names = [d.name for d in desc]
        oids = [d.type_code for d in desc]
        gtypes = self._geom_oids(con)
        rows = res.fetchall()
        values = list(zip(*rows)) if rows else [()] * len(names)
        series, geom_cols = {}, []
        for i, (name, oid, vals) in enumerate(zip(names, oids, values)):
            if oid in gtypes or (oid == 17 and name == geometry and force_wkb):
                arr = np.array(vals, dtype=object)
                geoms = shapely.from_wkb(arr, on_invalid="raise") if len(arr) else np.array([], dtype=object)
                series[i] = pd.Series(geoms, dtype=object)
                geom_cols.append(i)
                continue
            series[i] = self._to_pandas(vals, oid)
        df = pd.DataFrame(series, index=pd.RangeIndex(len(rows)))
        df.columns = names
        if not geom_cols:
            return df
        active = next((i for i in geom_cols if names[i] == geometry), geom_cols[0])
        gname = names[active]
        crs = None
        for i in geom_cols:
            vals = df.iloc[:, i].to_numpy()
            srids = shapely.get_srid(vals[pd.notna(vals)]) if len(vals) else np.array([], dtype=int)
            srid = int(srids[0]) if len(srids) else TARGET_EPSG
            col_crs = f"EPSG:{srid}" if srid > 0 else None
            if i == active:
                crs = col_crs
            df.isetitem(i, gpd.GeoSeries(vals, crs=col_crs, index=df.index).values)
        return gpd.GeoDataFrame(df, geometry=gname, crs=crs)

    @staticmethod
    def _to_pandas(vals, oid) -> pd.Series:
        try:
            if oid in _BOOL:
                arr = pa.array(list(vals), pa.bool_())
            elif oid in _INT:
                arr = pa.array(list(vals), pa.int64())
            elif oid in _FLOAT:
                arr = pa.array(list(vals), pa.float64())
            elif oid in _NUMERIC:
                arr = pa.array([None if v is None else float(v) for v in vals], pa.float64())
            elif oid in _TEXT:
                arr = pa.array(list(vals), pa.string())
            else:
                arr = pa.array(list(vals))
            return pa.chunked_array([arr], type=arr.type).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
            return pd.Series(list(vals), dtype=object)

    def log(self) -> pd.DataFrame:
        with self.engine.connect() as con:
            if LOG_TABLE not in self._tables(con):
                return pd.DataFrame(columns=LOG_COLUMNS)
            res = con.execute(sa.text(f"SELECT {', '.join(q(c) for c in LOG_COLUMNS)} "
                                      f"FROM {self._t(LOG_TABLE)} ORDER BY id"))
            return self._frame(con, res, geometry=None)

    # -- writing ------------------------------------------------------------------------
    def replace_layers(self, frames: dict, log_rows: list[dict]) -> None:
        """Replace (or create) the given layers and append provenance rows, in one transaction."""
        for name in frames:
            if not IDENT.match(name) or len(name) > 50:
                raise ValueError(f"invalid layer name {name!r}")
        with self.engine.begin() as con:
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                        {"k": f"mbm_sig:{self.schema}"})
            self._ensure_schema(con)
            for name, frame in frames.items():
                new = name + NEW_SUFFIX
                con.execute(sa.text(f"DROP TABLE IF EXISTS {self._t(new)}"))
                self._write_table(con, new, frame)
            for name, frame in frames.items():
                con.execute(sa.text(f"DROP TABLE IF EXISTS {self._t(name)}"))
                con.execute(sa.text(f"ALTER TABLE {self._t(name + NEW_SUFFIX)} RENAME TO {q(name)}"))
                self._index(con, name, frame)
            if log_rows:
                con.execute(sa.text(
                    f"INSERT INTO {self._t(LOG_TABLE)} ({', '.join(q(c) for c in LOG_COLUMNS)}) "
                    f"VALUES ({', '.join(':' + c for c in LOG_COLUMNS)})"),
                    [{c: _py(r.get(c)) for c in LOG_COLUMNS} for r in log_rows])
            # QGIS default styles and abstracts of every layer (the YAML may have changed)
            from mbm_sig.qgis.styles import write_postgis_styles
            write_postgis_styles(con, self.schema, self._tables(con))
            self._before_commit(con)

    def _before_commit(self, con) -> None:
        """Last step inside the write transaction (a seam for the atomicity tests)."""

    def _ensure_schema(self, con) -> None:
        has = con.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
        if not has:
            try:
                with con.begin_nested():
                    con.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public"))
            except sa.exc.DBAPIError as exc:
                raise RuntimeError(
                    f"PostGIS is not installed in this database and cannot be created here "
                    f"({str(exc.orig).strip().splitlines()[0]}): run CREATE EXTENSION postgis as "
                    f"a superuser") from None
            self._geometry_oids = None
        con.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {q(self.schema)}"))
        con.execute(sa.text(
            f"CREATE TABLE IF NOT EXISTS {self._t(LOG_TABLE)} ("
            "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, layer text NOT NULL, action text, "
            "source text, checksum text, rows bigint, imported_at text, tool_version text)"))

    @staticmethod
    def _column_type(s: pd.Series) -> tuple[str, object]:
        """SQL type of a column and a converter of its values to Python objects."""
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean", lambda v: None if v is None or v is pd.NA else bool(v)
        if pd.api.types.is_integer_dtype(dtype):
            return "bigint", lambda v: None if v is None or v is pd.NA else int(v)
        if pd.api.types.is_float_dtype(dtype):
            return "double precision", lambda v: None if v is None or v is pd.NA or v != v else float(v)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            tz = getattr(dtype, "tz", None) is not None
            return ("timestamptz" if tz else "timestamp"), \
                lambda v: None if v is None or v is pd.NaT else pd.Timestamp(v).to_pydatetime()
        kind = pd.api.types.infer_dtype(s, skipna=True)

        def null(v):
            return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)
        if kind == "boolean":
            return "boolean", lambda v: None if null(v) else bool(v)
        if kind == "integer":
            return "bigint", lambda v: None if null(v) else int(v)
        if kind in ("floating", "mixed-integer-float", "decimal"):
            return "double precision", lambda v: None if null(v) else float(v)
        if kind == "date":
            return "date", lambda v: None if null(v) else v
        if kind in ("datetime", "datetime64"):
            return "timestamp", lambda v: None if null(v) else pd.Timestamp(v).to_pydatetime()
        if kind == "bytes":
            return "bytea", lambda v: None if null(v) else bytes(v)
        return "text", lambda v: None if null(v) else str(v)

    def _write_table(self, con, table: str, frame) -> None:
        """CREATE TABLE ``table`` typed from ``frame``, then COPY its rows in."""
        is_geo = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame
        gname = frame.geometry.name if is_geo else None
        defs, converters, names = [], [], []
        for col in frame.columns:
            if col == gname:
                continue
            sqltype, conv = self._column_type(frame[col])
            defs.append(f"{q(col)} {sqltype}")
            converters.append(conv)
            names.append(col)
        columns = [frame[c].tolist() for c in names]
        data = [[conv(v) for v in vals] for conv, vals in zip(converters, columns)]
        if is_geo:
            gtype = frame.attrs.get("geometry_type") or "Geometry"
            defs.append(f"geom geometry({gtype}, {TARGET_EPSG})")
            names.append("geom")
            geoms = frame.geometry
            if geoms.crs is not None and geoms.crs.to_epsg() != TARGET_EPSG:
                geoms = geoms.to_crs(TARGET_CRS)
            arr = shapely.set_srid(np.asarray(geoms.values, dtype=object), TARGET_EPSG)
            data.append(list(shapely.to_wkb(arr, hex=True, include_srid=True)))
        con.execute(sa.text(f"CREATE TABLE {self._t(table)} ({', '.join(defs)})"))
        if not len(frame) or not names:
            return
        cur = con.connection.driver_connection.cursor()
        try:
            with cur.copy(f"COPY {self._t(table)} ({', '.join(q(n) for n in names)}) FROM STDIN") as cp:
                for row in zip(*data):
                    cp.write_row(row)
        finally:
            cur.close()

    def _index(self, con, name: str, frame) -> None:
        t = self._t(name)
        if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame:
            con.execute(sa.text(f"CREATE INDEX {q(name + '_geom_gist')} ON {t} USING gist (geom)"))
        key = self._key(name)
        if key and key in frame.columns:
            keys = frame[key]
            if not keys.dropna().duplicated().any():
                if keys.notna().all():
                    con.execute(sa.text(f"ALTER TABLE {t} ADD CONSTRAINT {q(name + '_pkey')} "
                                        f"PRIMARY KEY ({q(key)})"))
                else:
                    con.execute(sa.text(f"CREATE UNIQUE INDEX {q(name + '_key')} ON {t} ({q(key)})"))
            else:   # not a valid key (unvalidated write): index it for lookups only
                con.execute(sa.text(f"CREATE INDEX {q(name + '_key')} ON {t} ({q(key)})"))
        con.execute(sa.text(f"ANALYZE {t}"))

    @staticmethod
    def _key(name: str) -> str | None:
        try:
            from mbm_sig.catalogue.layerdef import load_layers
            ld = load_layers().get(name)
        except Exception:       # a broken definition file must not block a write
            return None
        return ld.key if ld is not None else None
