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

import itertools
import math
import os
import re
import sys
from contextlib import contextmanager
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import sqlalchemy as sa

from mbm_sig.catalogue.sqlguard import SQLRefused, check_query, missing_parameter
from mbm_sig.catalogue.validate import FrameStream
from mbm_sig.config import TARGET_CRS, TARGET_EPSG, settings
from mbm_sig.errors import CatalogueMissing, ConnectionFailed, Failure, InvalidInput

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
        raise InvalidInput(f"invalid PostGIS schema name {schema!r} (letters, digits, underscore)")
    return schema


def _py(value):
    """A parameter value psycopg can adapt (numpy scalars -> Python scalars)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _first_line(exc) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


def _connection_reason(exc) -> str:
    """libpq's reason for a failed connection, without the «connection to server at …»
    preamble it repeats for every address."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    reasons = []
    for ln in lines:
        r = ln.rsplit("failed: ", 1)[-1].strip()
        r = re.sub(r"^(FATAL|ERROR):\s*", "", r)
        if r.startswith("Is the server running") or r.startswith("HINT"):
            continue
        if r not in reasons:
            reasons.append(r)
    return "; ".join(reasons) or type(exc).__name__


class _Rows:
    """A psycopg cursor seen as the result object :meth:`PostGISBackend._frame` reads."""

    def __init__(self, cur):
        self.cursor = cur

    def fetchall(self):
        return self.cursor.fetchall()


class PostGISBackend:
    kind = "postgis"

    def __init__(self, url: str):
        self.url = url
        self.schema = schema_of(url)
        cfg = settings(db_url=url)
        self.connect_timeout = cfg.connect_timeout
        self.statement_timeout = cfg.statement_timeout
        self.reader_role = cfg.reader_role
        self.reader_url = cfg.reader_url
        self.engine = self._engine(url)
        self._reader_engine = None
        self._reader_login: str | None = None
        self._geometry_oids: set[int] | None = None

    def _engine(self, url: str, read_only: bool = False):
        """An engine with the connect timeout, the statement timeout and, for ``sql``, every
        transaction read-only from its start (``default_transaction_read_only``)."""
        u = driver_url(url)
        options = f"-csearch_path={self.schema},public"
        if self.statement_timeout > 0:
            options += f" -cstatement_timeout={int(self.statement_timeout * 1000)}"
        if read_only:
            options += " -cdefault_transaction_read_only=on"
        if u.query.get("options"):
            options = f"{u.query['options']} {options}"
            u = u.difference_update_query(["options"])
        args = {"options": options, "application_name": "mbm-sig",
                # a lost server is noticed within about 30 s: keepalive probes while idle, and
                # data left unacknowledged that long while sending (an import's COPY)
                "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 4,
                "tcp_user_timeout": 30_000}
        if self.connect_timeout > 0:
            args["connect_timeout"] = max(1, math.ceil(self.connect_timeout))
        return sa.create_engine(u, connect_args=args)

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True).replace("+psycopg", "")

    def _connect_error(self, exc) -> ConnectionFailed:
        where = self.display_url
        if "timeout" in str(getattr(exc, "orig", exc)).lower():
            return ConnectionFailed(f"cannot connect to {where}: no answer within {self.connect_timeout:g} s "
                                    "(MBM_SIG_CONNECT_TIMEOUT)")
        return ConnectionFailed(f"cannot connect to {where}: {_connection_reason(exc)}")

    @contextmanager
    def _guard(self, what: str = "read"):
        """Driver errors after connecting as one line: a lost connection
        (:class:`ConnectionFailed`), a timeout or a missing privilege (:class:`Failure`)."""
        import psycopg
        try:
            yield
        except sa.exc.DBAPIError as exc:
            orig = exc.orig
            where = self.display_url
            if isinstance(orig, psycopg.errors.QueryCanceled):
                raise Failure(f"{what} on {where}: statement cancelled after {self.statement_timeout:g} s "
                              "(MBM_SIG_STATEMENT_TIMEOUT)") from None
            if isinstance(orig, psycopg.errors.InsufficientPrivilege):
                raise Failure(f"{what} on {where}: the role lacks a privilege: {_first_line(exc)} "
                              "(`mbm-sig roles` prints the grants an administrator runs)") from None
            if isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)) or exc.connection_invalidated:
                kept = " (nothing was changed: the transaction rolled back)" if what == "write" else ""
                raise ConnectionFailed(f"connection to {where} lost during {what}: "
                                       f"{_connection_reason(exc)}{kept}") from None
            raise

    @contextmanager
    def _connect(self, engine=None, begin: bool = False, what: str = "read"):
        """A connection (``begin``: a transaction committed at the end), every driver error
        turned into one line (see :meth:`_guard`)."""
        try:
            cm = (engine or self.engine).begin() if begin else (engine or self.engine).connect()
            con = cm.__enter__()
        except sa.exc.DBAPIError as exc:
            raise self._connect_error(exc) from None
        with self._guard(what):
            try:
                yield con
            except BaseException:
                if not cm.__exit__(*sys.exc_info()):
                    raise
            else:
                cm.__exit__(None, None, None)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader_engine is not None:
            self._reader_engine.dispose()

    def __repr__(self) -> str:
        return f"<PostGISBackend {self.display_url} schema={self.schema}>"

    def _t(self, name: str) -> str:
        return f"{q(self.schema)}.{q(name)}"

    # -- reading ------------------------------------------------------------------------
    def exists(self) -> bool:
        with self._connect() as con:
            return con.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                               {"s": self.schema}).first() is not None

    def require(self) -> None:
        """Refuse to read a catalogue that does not exist (never an empty answer)."""
        if not self.exists():
            raise CatalogueMissing(f"catalogue {self.display_url} (schema {self.schema}) does not exist: "
                                   f"create it with `mbm-sig --db URL build` (or `import`)")

    def _tables(self, con) -> list[str]:
        rows = con.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.oid"),
            {"s": self.schema}).scalars().all()
        return list(rows)

    def layer_names(self) -> list[str]:
        with self._connect() as con:
            return [n for n in self._tables(con)
                    if n not in (LOG_TABLE, "spatial_ref_sys", "layer_styles") and not n.endswith(NEW_SUFFIX)]

    def count(self, name: str) -> int:
        with self._connect() as con:
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
        with self._connect() as con:
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
        for c, flag in zip(narrow, has_null, strict=True):
            if flag:
                df[c] = df[c].astype("float64" if pd.api.types.is_integer_dtype(df[c].dtype) else object)
        return df

    def sql(self, query: str, params: dict | None = None):
        """One read-only query, ``:name`` parameters bound by the server; a GeoDataFrame
        when the result has a geometry column (``geom`` preferred).

        Three walls: the text must be one read-only query (:mod:`sqlguard`); it is sent as
        ONE prepared statement (the extended protocol refuses a second statement); it runs
        in a transaction that is read-only from its start (``default_transaction_read_only``
        on the session) under the reader role (``SET LOCAL ROLE``, or the login role of
        ``MBM_SIG_PG_READER_URL``), which cannot write tables or server files."""
        text, values = self._bind(query, params)
        if self._reader_engine is None:
            self._reader_login = self.reader_url or self._reader_login_url()
            self._reader_engine = self._engine(self._reader_login or self.url, read_only=True)
        import psycopg
        with self._reader_connection() as con:
            self._geom_oids(con)
            if not self._reader_login:
                self._become_reader(con)
            # a first query fixes the transaction's snapshot: from here on it can no longer be
            # made read-write (SET TRANSACTION READ WRITE "must be called before any query")
            if con.execute(sa.text("SELECT current_setting('transaction_read_only')")).scalar() != "on":
                raise Failure("the PostGIS session is not read-only: `sql` refuses to run")
            cur = con.connection.driver_connection.cursor()
            try:
                try:
                    cur.execute(text, values, prepare=True)
                except psycopg.errors.QueryCanceled:
                    raise Failure(f"SQL cancelled after {self.statement_timeout:g} s "
                                  "(MBM_SIG_STATEMENT_TIMEOUT)") from None
                except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as exc:
                    hint = (f" (`sql` runs as {self.reader_role}, which reads only what it was granted: "
                            "`mbm-sig roles`)") if "permission denied for table" in str(exc) else ""
                    raise SQLRefused(f"refused by the server: {_first_line(exc)}{hint}") from None
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as exc:
                    raise InvalidInput(f"SQL error on PostGIS: {_first_line(exc)}") from None
                if cur.description is None:
                    return pd.DataFrame()
                df = self._frame(con, _Rows(cur), geometry="geom")
            finally:
                cur.close()
                con.rollback()
        return df

    @staticmethod
    def _bind(query: str, params: dict | None):
        """The checked query in psycopg's placeholder style and its values: a list value
        expands to ``(v1, v2, …)`` (``x IN :codes``), as on the GeoPackage."""
        params = dict(params or {})
        checked = check_query(query, "postgresql")
        out, values = [], {}
        for t in checked.tokens:
            if t.kind != "param":
                out.append(t.text.replace("%", "%%"))
                continue
            if t.value not in params:
                raise missing_parameter(t.value)
            v = params[t.value]
            if isinstance(v, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
                items = [_py(x) for x in v]
                keys = [f"{t.value}__{k}" for k in range(len(items))]
                values.update(zip(keys, items, strict=True))
                out.append("(" + ", ".join(f"%({k})s" for k in keys) + ")" if keys
                           else "(SELECT NULL WHERE false)")
            else:
                values[t.value] = _py(v)
                out.append(f"%({t.value})s")
        return "".join(out), values

    def _reader_login_url(self) -> str | None:
        """When the catalogue's own login role could reach server files (a superuser, or a
        member of ``pg_read_server_files``/``pg_write_server_files``/
        ``pg_execute_server_program``), ``SET ROLE`` is no wall: such a session user may
        switch back with ``set_config('role', …)``. ``sql`` then logs in AS the reader role
        (same server and database, no password: trust, peer or a ``.pgpass`` entry), whose
        session cannot become anyone else. ``None``: the login role is an ordinary one, and
        ``SET LOCAL ROLE`` to the reader inside the read-only transaction is enough."""
        with self._connect() as con:
            unsafe = con.execute(sa.text(
                "SELECT rolsuper OR pg_has_role(oid, 'pg_write_server_files', 'USAGE') "
                "OR pg_has_role(oid, 'pg_execute_server_program', 'USAGE') "
                "OR pg_has_role(oid, 'pg_read_server_files', 'USAGE') FROM pg_roles "
                "WHERE rolname = session_user")).scalar()
        if not unsafe:
            return None
        u = driver_url(self.url).set(username=self.reader_role, password=None)
        return u.render_as_string(hide_password=False)

    @contextmanager
    def _reader_connection(self):
        """A connection for ``sql``; a reader login that fails says what to set."""
        entered = False
        try:
            with self._connect(self._reader_engine) as con:
                entered = True
                yield con
        except ConnectionFailed as exc:
            if entered or not self._reader_login or self.reader_url:
                raise
            self._reader_engine.dispose()
            self._reader_engine = None
            raise Failure(
                f"`sql` does not run as the catalogue's login role, which can reach server files; "
                f"it logs in as the reader role {self.reader_role} instead, and that failed "
                f"({exc.message()}): set MBM_SIG_PG_READER_URL to a login of the reader role "
                "(`mbm-sig roles` prints how to create it)") from None

    def _become_reader(self, con) -> None:
        """``SET LOCAL ROLE`` to the reader role; refused when the role is missing and the
        connection's own role could write server files (a superuser)."""
        row = con.execute(sa.text(
            "SELECT r.rolsuper OR pg_has_role(r.oid, 'pg_write_server_files', 'USAGE') "
            "OR pg_has_role(r.oid, 'pg_execute_server_program', 'USAGE') "
            "OR pg_has_role(r.oid, 'pg_read_server_files', 'USAGE') AS unsafe, "
            "pg_has_role(current_user, r.oid, 'USAGE') OR "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS usable "
            "FROM pg_roles r WHERE r.rolname = :r"), {"r": self.reader_role}).first()
        if row is not None and row.usable:
            if row.unsafe:
                raise Failure(f"reader role {self.reader_role} can write server files or is a superuser: "
                              "`sql` refuses to use it (`mbm-sig roles` prints how to create it)")
            con.execute(sa.text(f"SET LOCAL ROLE {q(self.reader_role)}"))
            return
        me = con.execute(sa.text(
            "SELECT current_user, rolsuper OR pg_has_role(oid, 'pg_write_server_files', 'USAGE') "
            "OR pg_has_role(oid, 'pg_execute_server_program', 'USAGE') "
            "OR pg_has_role(oid, 'pg_read_server_files', 'USAGE') FROM pg_roles "
            "WHERE rolname = current_user")).first()
        if me is not None and me[1]:
            raise Failure(f"`sql` does not run as {me[0]}, a role that can reach server files, and the "
                          f"reader role {self.reader_role} is {'missing' if row is None else 'not granted'}: "
                          "run the SQL of `mbm-sig roles` as an administrator, or set MBM_SIG_PG_READER_URL")

    def _frame(self, con, res, geometry: str | None, force_wkb: bool = False):
        """Rows of ``res`` as a (Geo)DataFrame, typed as pyogrio types GeoPackage reads."""
        desc = res.cursor.description
        names = [d.name for d in desc]
        oids = [d.type_code for d in desc]
        gtypes = self._geom_oids(con)
        rows = res.fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        series, geom_cols = {}, []
        for i, (name, oid, vals) in enumerate(zip(names, oids, values, strict=True)):
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

    def state(self) -> tuple:
        """What changes when the catalogue's data change (for what is kept across runs): the
        import log and the server's count of rows changed in the schema (edits made in the
        database directly, by QGIS for one; the count reaches the statistics within a second
        of the commit; None where a role cannot read the statistics: the import log only)."""
        log = self.log()
        try:
            with self._connect() as con:
                changes = con.execute(sa.text(
                    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
                    "WHERE schemaname = :s"), {"s": self.schema}).scalar_one()
        except Exception:                  # noqa: BLE001 - a role without access to the statistics
            changes = None
        return ("pg", len(log), str(log["imported_at"].max()) if len(log) else "", changes)

    def log(self) -> pd.DataFrame:
        with self._connect() as con:
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
                raise InvalidInput(f"invalid layer name {name!r}")
        with self._connect(begin=True, what="write") as con:
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                        {"k": f"mbm_sig:{self.schema}"})
            self._ensure_schema(con)
            firsts = {}
            for name, frame in frames.items():
                new = name + NEW_SUFFIX
                con.execute(sa.text(f"DROP TABLE IF EXISTS {self._t(new)}"))
                firsts[name] = self._write_table(con, new, frame)
            for row in log_rows:             # a streamed layer's rows are known now
                if isinstance(frames.get(row["layer"]), FrameStream):
                    row["rows"] = frames[row["layer"]].rows
            for name, frame in frames.items():
                con.execute(sa.text(f"DROP TABLE IF EXISTS {self._t(name)}"))
                con.execute(sa.text(f"ALTER TABLE {self._t(name + NEW_SUFFIX)} RENAME TO {q(name)}"))
                self._index(con, name, firsts[name], frame if isinstance(frame, FrameStream) else None)
            self._grant_reader(con, list(frames) + [LOG_TABLE])
            if log_rows:
                con.execute(sa.text(
                    f"INSERT INTO {self._t(LOG_TABLE)} ({', '.join(q(c) for c in LOG_COLUMNS)}) "
                    f"VALUES ({', '.join(':' + c for c in LOG_COLUMNS)})"),
                    [{c: _py(r.get(c)) for c in LOG_COLUMNS} for r in log_rows])
            # QGIS default styles and abstracts of every layer (the YAML may have changed)
            from mbm_sig.qgis.styles import write_postgis_styles
            write_postgis_styles(con, self.schema, self._tables(con))
            self._before_commit(con)

    def _grant_reader(self, con, tables) -> None:
        """The reader role (created when this role may) reads the schema's tables: ``sql``
        runs as it. Without the privilege to create or grant, nothing changes here and
        ``mbm-sig roles`` tells an administrator what to run."""
        role = self.reader_role
        if not IDENT.match(role):
            raise InvalidInput(f"MBM_SIG_PG_READER_ROLE={role!r}: not a plain role name")
        try:
            with con.begin_nested():
                if con.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
                    # LOGIN without a password: `sql` of a superuser catalogue logs in as it
                    # where the server trusts local logins; with password authentication
                    # nobody can log in as it until an administrator gives it a password
                    con.execute(sa.text(f"CREATE ROLE {q(role)} LOGIN NOSUPERUSER NOCREATEDB "
                                        "NOCREATEROLE NOINHERIT"))
        except sa.exc.DBAPIError:
            pass        # no CREATEROLE privilege, or created meanwhile by another writer
        try:
            with con.begin_nested():
                con.execute(sa.text(f"GRANT USAGE ON SCHEMA {q(self.schema)} TO {q(role)}"))
                for t in tables:
                    con.execute(sa.text(f"GRANT SELECT ON {self._t(t)} TO {q(role)}"))
        except sa.exc.DBAPIError:
            pass

    def _before_commit(self, con) -> None:
        """Last step inside the write transaction (a seam for the atomicity tests)."""

    def _ensure_schema(self, con) -> None:
        has = con.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
        if not has:
            try:
                with con.begin_nested():
                    con.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public"))
            except sa.exc.DBAPIError as exc:
                raise Failure(
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
    def _column_type(s: pd.Series) -> str:
        """SQL type of a column."""
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_integer_dtype(dtype):
            return "bigint"
        if pd.api.types.is_float_dtype(dtype):
            return "double precision"
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return "timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"
        kind = pd.api.types.infer_dtype(s, skipna=True)
        return {"boolean": "boolean", "integer": "bigint", "floating": "double precision",
                "mixed-integer-float": "double precision", "decimal": "double precision", "date": "date",
                "datetime": "timestamp", "datetime64": "timestamp", "bytes": "bytea"}.get(kind, "text")

    def _write_table(self, con, table: str, frame):
        """CREATE TABLE ``table`` typed from ``frame`` (of a stream, its first frame), then COPY
        the rows in, frame after frame, in COPY's binary format (each frame encoded at once
        from its arrays: :func:`copy_rows`); returns the first frame."""
        frames = iter(frame) if isinstance(frame, FrameStream) else iter([frame])
        first = next(frames, None)          # a stream raises if the file is empty or bad
        if first is None:
            raise ValueError(f"table {table}: a streamed write gave no rows")
        is_geo = isinstance(first, gpd.GeoDataFrame) and first._geometry_column_name in first
        gname = first.geometry.name if is_geo else None
        names = [c for c in first.columns if c != gname]
        types = [self._column_type(first[c]) for c in names]
        defs = [f"{q(c)} {t}" for c, t in zip(names, types, strict=True)]
        columns = list(names)
        if is_geo:
            gtype = first.attrs.get("geometry_type") or "Geometry"
            defs.append(f"geom geometry({gtype}, {TARGET_EPSG})")
            columns.append("geom")
        con.execute(sa.text(f"CREATE TABLE {self._t(table)} ({', '.join(defs)})"))
        if not columns:
            return first
        cur = con.connection.driver_connection.cursor()
        try:
            # FREEZE: the table was created in this transaction (nobody else sees its rows
            # before the commit, and the server need not revisit them afterwards)
            with cur.copy(f"COPY {self._t(table)} ({', '.join(q(n) for n in columns)}) FROM STDIN "
                          "WITH (FORMAT binary, FREEZE)") as cp:
                cp.write(PGCOPY_HEADER)       # (psycopg sends from its own thread meanwhile)
                for part in itertools.chain([first], frames):
                    if len(part):
                        cp.write(copy_rows(part, names, types, gname))
                cp.write(PGCOPY_TRAILER)
        finally:
            cur.close()
        return first

    def _index(self, con, name: str, frame, stream: FrameStream | None = None) -> None:
        t = self._t(name)
        if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame:
            con.execute(sa.text(f"CREATE INDEX {q(name + '_geom_gist')} ON {t} USING gist (geom)"))
        key = self._key(name)
        if key and key in frame.columns:
            if stream is not None:          # checked across the whole stream: unique
                unique, complete = True, not stream.key_nulls
            else:
                keys = frame[key]
                unique, complete = not keys.dropna().duplicated().any(), bool(keys.notna().all())
            if unique:
                if complete:
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


# ---------------------------------------------------------------------------------------
# COPY's binary format, built from a frame's arrays (numpy and Arrow kernels, no value-by-value
# Python for the layers' types: boolean, bigint, double precision, text, geometry as EWKB)

PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
PGCOPY_TRAILER = b"\xff\xff"
_PG_EPOCH = pd.Timestamp("2000-01-01")
_EWKB_SRID = 0x20000000


def _fields(sizes: np.ndarray, data: np.ndarray) -> pa.Array:
    """Fields (an Arrow binary array) from their byte sizes and their bytes end to end."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(sizes),
                                            [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))])


def _fixed_fields(values: np.ndarray, null: np.ndarray | None) -> pa.Array:
    """Fixed-width values (already in the server's byte order) as COPY fields: a 4-byte
    length, then the value; a NULL is the length -1 alone."""
    n, w = len(values), values.dtype.itemsize
    rec = np.empty(n, dtype=[("n", ">i4"), ("v", values.dtype)])
    rec["n"] = w
    rec["v"] = values
    if null is None or not null.any():
        return _fields(np.full(n, 4 + w, dtype=np.int64), rec.view(np.uint8))
    rec["n"][null] = -1
    keep = np.ones((n, 4 + w), dtype=bool)
    keep[null, 4:] = False
    return _fields(np.where(null, 4, 4 + w), rec.view(np.uint8).reshape(n, 4 + w)[keep])


def _var_fields(payload: pa.Array, null: np.ndarray) -> list[pa.Array]:
    """Variable-length values (an Arrow binary array, NULLs as empty values) as COPY fields:
    two arrays, the 4-byte lengths and the values, that the row join puts end to end."""
    import pyarrow.compute as pc
    if isinstance(payload, pa.ChunkedArray):
        payload = payload.combine_chunks()
    lengths = pc.binary_length(payload).to_numpy(zero_copy_only=False).astype(np.int64)
    if lengths.max(initial=0) > 2**31 - 1:
        raise InvalidInput("a value longer than 2 GB cannot be written to PostGIS")
    prefix = np.where(null, -1, lengths).astype(">i4")
    return [_fields(np.full(len(prefix), 4, dtype=np.int64), prefix.view(np.uint8)), payload.cast(pa.large_binary())]


def _value_fields(s: pd.Series, sqltype: str) -> list[pa.Array]:
    """One column as COPY binary fields (see :func:`copy_rows`)."""
    s = s.reset_index(drop=True)
    null = s.isna().to_numpy(dtype=bool)
    if sqltype in ("boolean", "bigint", "double precision"):
        arrow = {"boolean": pa.bool_(), "bigint": pa.int64(), "double precision": pa.float64()}[sqltype]
        if s.dtype == object:
            s = s.where(s.notna(), None)
        arr = pa.array(s, type=arrow, from_pandas=True)
        null = arr.is_null().to_numpy(zero_copy_only=False)
        big = {"boolean": ">u1", "bigint": ">i8", "double precision": ">f8"}[sqltype]
        fill = {"boolean": False, "bigint": 0, "double precision": 0.0}[sqltype]
        values = arr.fill_null(fill).to_numpy(zero_copy_only=False).astype(big)
        return [_fixed_fields(values, null)]
    if sqltype == "date":
        days = [0 if nul else (pd.Timestamp(v) - _PG_EPOCH).days for v, nul in zip(s.astype(object), null, strict=True)]
        return [_fixed_fields(np.array(days, dtype=">i4"), null)]
    if sqltype.startswith("timestamp"):
        def micros(v) -> int:
            t = pd.Timestamp(v)
            if t.tzinfo is not None:
                # timestamptz: the instant; timestamp: the wall time written (the server's
                # reading of the text «… +01:00» into a column without time zone)
                t = t.tz_convert("UTC").tz_localize(None) if sqltype == "timestamptz" else t.tz_localize(None)
            return (t - _PG_EPOCH) // pd.Timedelta(microseconds=1)
        us = [0 if nul else micros(v) for v, nul in zip(s.astype(object), null, strict=True)]
        return [_fixed_fields(np.array(us, dtype=">i8"), null)]
    if sqltype == "bytea":
        return _var_fields(pa.array([b"" if nul else bytes(v) for v, nul in zip(s.astype(object), null, strict=True)],
                                    pa.large_binary()), null)
    if null.all():                          # (a field the file does not have): lengths -1 alone
        return [_fixed_fields(np.zeros(len(s), dtype="u1"), null)]
    text = s.astype(str)
    if null.any():
        text = text.where(~null, "")
    return _var_fields(pa.array(text, pa.large_string()), null)


def _ewkb_fields(geoms: gpd.GeoSeries) -> list[pa.Array]:
    """Geometries in EPSG:2154 as COPY binary fields: EWKB (with the SRID), NULL for a
    missing one. Points are written straight from their coordinates (reprojected by PROJ
    as ``to_crs`` does); other geometries by GEOS."""
    arr = np.asarray(geoms.values, dtype=object)
    missing = shapely.is_missing(arr)
    crs = geoms.crs
    reproject = crs is not None and crs.to_epsg() != TARGET_EPSG
    if (len(arr) and not missing.any() and (shapely.get_type_id(arr) == 0).all()
            and not shapely.is_empty(arr).any() and not shapely.has_z(arr).any()):
        xy = shapely.get_coordinates(arr)
        x, y = xy[:, 0], xy[:, 1]
        if reproject:
            from pyproj import Transformer
            x, y = Transformer.from_crs(crs, TARGET_CRS, always_xy=True).transform(x, y)
        rec = np.empty(len(arr), dtype=[("n", ">i4"), ("bo", "u1"), ("type", "<u4"), ("srid", "<u4"),
                                        ("x", "<f8"), ("y", "<f8")])
        rec["n"] = 25
        rec["bo"] = 1
        rec["type"] = _EWKB_SRID | 1
        rec["srid"] = TARGET_EPSG
        rec["x"], rec["y"] = x, y
        return [_fields(np.full(len(arr), 29, dtype=np.int64), rec.view(np.uint8))]
    if reproject:
        arr = np.asarray(geoms.to_crs(TARGET_CRS).values, dtype=object)
    wkb = shapely.to_wkb(shapely.set_srid(arr, TARGET_EPSG), hex=False, include_srid=True, byte_order=1)
    wkb = np.where(missing, b"", wkb)
    return _var_fields(pa.array(wkb, pa.large_binary()), missing)


def copy_rows(part, names: list, types: list, gname: str | None) -> memoryview:
    """The rows of ``part`` in COPY's binary format (without the header and trailer): each
    row its field count, then each field's length and bytes, the geometry last."""
    import pyarrow.compute as pc
    fields: list = []
    for c, t in zip(names, types, strict=True):
        fields += _value_fields(part[c], t)
    if gname is not None:
        fields += _ewkb_fields(part.geometry)
    n = len(part)
    count = np.full(n, len(names) + (gname is not None), dtype=">i2")
    fields.insert(0, _fields(np.full(n, 2, dtype=np.int64), count.view(np.uint8)))
    rows = pc.binary_join_element_wise(*fields, pa.scalar(b"", pa.large_binary()))
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64, count=len(rows) + 1, offset=rows.offset * 8)
    return memoryview(rows.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def roles_sql(url: str | None = None, reader: str = "mbm_reader", writer: str = "mbm_writer") -> str:
    """The SQL an administrator runs once to give the catalogue a reader and a writer role
    (printed by ``mbm-sig roles``)."""
    cfg = settings(db_url=url)
    schema = schema_of(cfg.db_url) if cfg.is_postgis else DEFAULT_SCHEMA
    db = driver_url(cfg.db_url).database if cfg.is_postgis else "sig"
    reader = reader or cfg.reader_role
    for n in (reader, writer):
        if not IDENT.match(n):
            raise InvalidInput(f"invalid role name {n!r} (letters, digits, underscore)")
    s, r, w, d = q(schema), q(reader), q(writer), q(db or "sig")
    return f"""-- mbm-sig: reader and writer roles for the catalogue (schema {schema} of database {db or 'sig'}).
-- Run once as a superuser, e.g.  mbm-sig roles | psql -h HOST -d {db or 'sig'} -U postgres
-- Neither role is a superuser nor a member of pg_read_server_files, pg_write_server_files
-- or pg_execute_server_program: they cannot read or write files on the server.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE ROLE {r} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;   -- reads; `mbm-sig sql` runs as it
CREATE ROLE {w} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;   -- builds and imports
GRANT CONNECT ON DATABASE {d} TO {r}, {w};
CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {w};
GRANT USAGE ON SCHEMA {s} TO {r};
GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r};
ALTER DEFAULT PRIVILEGES FOR ROLE {w} IN SCHEMA {s} GRANT SELECT ON TABLES TO {r};
-- Login roles: one per person or service (choose the names and passwords).
-- Analysts, notebooks and MBM_SIG_PG_READER_URL: reads only, every transaction read-only.
CREATE ROLE analyste LOGIN PASSWORD 'change-me' IN ROLE {r};
ALTER ROLE analyste SET default_transaction_read_only = on;
-- Cartographers running `mbm-sig build` / `import`: tables owned by {writer}.
CREATE ROLE cartographe LOGIN PASSWORD 'change-me' IN ROLE {w};
ALTER ROLE cartographe SET role = {q(writer)};
"""
