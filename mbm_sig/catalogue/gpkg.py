"""Embedded GeoPackage backend.

Writes are atomic at file level: the catalogue file is copied next to itself, the new
layers and the provenance rows are written into the copy, the copy is flushed to disk and
renamed over the original (``os.replace``). A crash or kill at any moment leaves either
the old file or the new one. An exclusive lock file serialises writers.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mbm_sig.atomic import file_lock, replace_kept
from mbm_sig.catalogue.sqlguard import Token, check_query, missing_parameter, render, split_arguments, tokenize
from mbm_sig.catalogue.validate import FrameStream, nullable_int_fields, plain_columns
from mbm_sig.config import TARGET_CRS
from mbm_sig.errors import CatalogueMissing, InvalidInput

LOG_TABLE = "mbm_imports"
STYLES_TABLE = "layer_styles"      # QGIS' default styles (mbm_sig.qgis.styles writes them)


def sql_literal(value) -> str:
    """SQL literal for SQLite: numbers as such, strings quoted with quotes doubled."""
    if value is None:
        return "NULL"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:
            return "NULL"
        return repr(value)
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series, pd.Index)):
        items = [sql_literal(v) for v in value]
        return "(" + ", ".join(items) + ")" if items else "(SELECT NULL WHERE 0)"
    return "'" + str(value).replace("'", "''") + "'"


def _rewrite_spatial(tokens: list) -> list:
    """PostGIS functions SpatiaLite lacks, rewritten so one notebook runs on both backends:
    ``ST_DWithin(a, b, d)`` -> ``(ST_Distance(a, b) <= (d))`` and
    ``ST_MakeEnvelope(x0, y0, x1, y1[, srid])`` -> ``BuildMbr(…)``."""
    out, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        j = i + 1
        while j < len(tokens) and tokens[j].kind in ("space", "comment"):
            j += 1
        call = t.kind == "word" and j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "("
        if call and t.value == "st_dwithin":
            args, end = split_arguments(tokens, j)
            if len(args) != 3:
                raise InvalidInput("ST_DWithin on GeoPackage takes (geometry, geometry, distance); "
                                   "the use_spheroid form exists only on PostGIS "
                                   "(use ST_Distance(a, b) <= d in EPSG:2154 metres)")
            a, b, d = (render(_rewrite_spatial(x)) for x in args)
            out.extend(tokenize(f"(ST_Distance({a}, {b}) <= ({d}))", "sqlite"))
            i = end + 1
            continue
        if call and t.value == "st_makeenvelope":
            out.append(Token("word", "BuildMbr", "buildmbr"))
            i += 1
            continue
        out.append(t)
        i += 1
    return out


def bind(query: str, params: dict | None) -> str:
    """One checked read-only query with ``:name`` parameters bound as escaped literals
    (GDAL's SQLite dialect has no binding): the query is tokenised, so a ``:name`` inside
    a quoted literal or identifier stays text. Raises :class:`SQLRefused` for anything
    but one read-only query, :class:`InvalidInput` for a parameter without a value."""
    params = params or {}
    checked = check_query(query, "sqlite")
    out = []
    for t in _rewrite_spatial(checked.tokens):
        if t.kind == "param":
            if t.value not in params:
                raise missing_parameter(t.value)
            out.append(sql_literal(params[t.value]))
        else:
            out.append(t.text)
    return "".join(out)


def _gdal_message(exc) -> str:
    """GDAL's message without the statement it echoes back."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    m = re.search(r"sqlite3_(?:prepare_v2|step)\(.*\):\s*(.*)$", msg, re.S)
    return (m.group(1) if m else msg).strip()


def filter_frame(df, where: dict | None):
    """Rows of ``df`` whose fields equal the given values (a list means any of them)."""
    if not where:
        return df
    mask = pd.Series(True, index=df.index)
    for field, value in where.items():
        col = df[field]
        if isinstance(value, (list, tuple, set)):
            mask &= col.isin(list(value))
        elif value is None:
            mask &= col.isna()
        else:
            mask &= col == value
    return df[mask.to_numpy()].reset_index(drop=True)


class RowIndex:
    """The row positions of each value of a cached layer's fields, made in one pass over a
    field the first time a ``where`` names it (a coverage atlas selects each page's feature
    among 1534 communes: a dictionary look-up instead of comparing every row). Gives the
    rows :func:`filter_frame` keeps, in the layer's order, or None where it cannot (a list
    holding None or NaN, a value that is not hashable): then the caller filters by mask."""

    def __init__(self, df):
        self.df = df
        self.fields: dict = {}

    def rows(self, pos, columns=None):
        """The rows at ``pos`` (and ``columns``, the geometry kept), renumbered from 0, as their
        own frame. Consecutive positions (a coverage page's one feature) are a slice, whose
        columns share the layer's until the caller changes them (pandas copy-on-write): taking
        rows copies a frame of Arrow columns column by column, three times as long."""
        df = self.df
        if columns is not None:
            df = df[list(columns) + ([df.geometry.name] if isinstance(df, gpd.GeoDataFrame) else [])]
        if len(pos) and pos[-1] - pos[0] == len(pos) - 1:
            out = df.iloc[int(pos[0]):int(pos[-1]) + 1]
        else:
            out = df.take(pos)
        out.index = pd.RangeIndex(len(out))
        return out

    def _of(self, field: str) -> dict:
        idx = self.fields.get(field)
        if idx is None:
            col = self.df[field]
            idx = self.fields[field] = col.groupby(col, sort=False, dropna=True).indices
        return idx

    def positions(self, where: dict):
        pos = None
        empty = np.zeros(0, dtype=np.intp)
        try:
            for field, value in where.items():
                if value is None:
                    return None
                idx = self._of(field)
                if isinstance(value, (list, tuple, set)):
                    if any(v is None or (isinstance(v, float) and v != v) for v in value):
                        return None
                    found = [idx[v] for v in value if v in idx]
                    p = np.unique(np.concatenate(found)) if found else empty
                elif isinstance(value, float) and value != value:
                    p = empty
                else:
                    p = np.sort(idx.get(value, empty))
                pos = p if pos is None else np.intersect1d(pos, p, assume_unique=True)
        except TypeError:           # an unhashable value: compared row by row
            return None
        return empty if pos is None else pos.astype(np.intp, copy=False)


def _forget_dropped(path, names) -> list[str]:
    """Metadata rows left by a table dropped outside the tool (``DROP TABLE`` in sqlite3):
    GDAL would refuse to create the layer again (``UNIQUE constraint failed:
    gpkg_contents``). Removed, with the table's R-tree, in the temporary copy only."""
    import sqlite3
    con = sqlite3.connect(str(path))
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if "gpkg_contents" not in tables:
            return []
        gone = [n for (n,) in con.execute("SELECT table_name FROM gpkg_contents")
                if n in names and n not in tables]
        for n in gone:
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents",
                         "gpkg_data_columns", "gpkg_metadata_reference"):
                if meta in tables:
                    con.execute(f'DELETE FROM "{meta}" WHERE lower(table_name) = lower(?)', (n,))
            for (rt,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?",
                                     (f"rtree_{n}_%",)).fetchall():
                try:
                    con.execute(f'DROP TABLE IF EXISTS "{rt}"')
                except sqlite3.OperationalError:
                    pass          # no R-tree module here: GDAL recreates the index anyway
        con.commit()
        return gone
    finally:
        con.close()


def _file_stat(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


#: a file larger than this is known by its stat alone (its digest would cost about a second per GB)
DIGEST_MAX_BYTES = 1 << 29
_DIGESTS: dict = {}


def content_digest(path: Path) -> str | tuple | None:
    """A digest of a SQLite file's content, its header's two write counters aside (bytes 24–27
    and 92–95, which every write transaction moves, a no-op one too), kept under the file's stat
    in this process and in the cache folder (``state/``): the file is read again only when its
    stat changed. A file over :data:`DIGEST_MAX_BYTES` (or unreadable) is known by its stat."""
    import hashlib
    import json

    from mbm_sig.config import settings
    st = _file_stat(path)
    if st is None or st[1] > DIGEST_MAX_BYTES:
        return st
    key = str(path.resolve())
    if _DIGESTS.get(key, (None,))[0] == st:
        return _DIGESTS[key][1]
    memo = settings().cache_dir / "state" / f"{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}.json"
    try:
        kept = json.loads(memo.read_text())
        if tuple(kept["stat"]) == st:
            _DIGESTS[key] = (st, kept["digest"])
            return kept["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    h = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as f:
            head = bytearray(f.read(100))
            head[24:28] = head[92:96] = b"\0\0\0\0"
            h.update(head)
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return st
    if _file_stat(path) != st:             # written while read: known by its stat this time
        return st
    digest = h.hexdigest()
    _DIGESTS[key] = (st, digest)
    # (a read-only cache folder: read again next run)
    replace_kept(memo, json.dumps({"path": key, "stat": st, "digest": digest}).encode())
    return digest


def _ogr():
    """pyogrio, imported where GDAL is asked (some 40 ms): a command whose reads are all kept
    (:mod:`mbm_sig.catalogue.kept`) does without it."""
    import pyogrio
    return pyogrio


class GeoPackageBackend:
    kind = "gpkg"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.url = str(self.path)
        self._cache: OrderedDict = OrderedDict()
        self._names = None
        self._required = None
        self._counts = None
        self._log = None
        self._last = None

    # -- reading ------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def _stamp(self):
        st = self.path.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def state(self) -> tuple:
        """What changes when the catalogue's data change, for what is kept across runs (an
        atlas's decisions, the cache of its sheets): the file's content, by a digest kept under
        its stat (:func:`content_digest`), and, last, a write under way: the write-ahead log while a
        writer holds pages in it (an empty log, which a reader's connection makes, does not
        count), else a rollback journal (a write in DELETE or TRUNCATE mode; a journal SQLite
        keeps in PERSIST mode counts as one always); None when neither. By content, not stat:
        opening a layer in QGIS writes to the file (the SQLite header's change counters go up)
        and changes nothing else, and the decisions an atlas kept stay good."""
        real = self.path.resolve()      # (SQLite's side files are beside the file a link names)
        pending = None
        for side in ("-wal", "-journal"):
            st = _file_stat(Path(f"{real}{side}"))
            if st and st[1] > 0:
                pending = (side, *st)
                break
        return ("gpkg", content_digest(self.path), pending)

    def _tables(self) -> list[str]:
        """Every table GDAL lists in the file (the provenance log and styles too), kept while
        the file is unchanged."""
        stamp = self._stamp()
        if self._names is None or self._names[0] != stamp:
            self._names = (stamp, self._kept(("tables",), lambda: [n for n, _ in _ogr().list_layers(self.path)]))
        return self._names[1]

    def layer_names(self) -> list[str]:
        if not self.exists():
            return []
        return [n for n in self._tables() if n not in (LOG_TABLE, STYLES_TABLE)]

    def _known_counts(self) -> dict:
        stamp = self._stamp()
        if self._counts is None or self._counts[0] != stamp:
            self._counts = (stamp, {})
        return self._counts[1]

    def remember_counts(self, counts: dict) -> None:
        """Feature counts of layers known otherwise (the layers read in memory), kept as
        :meth:`count` keeps what it reads (it then asks GDAL for none of them)."""
        known = self._known_counts()
        for name, n in counts.items():
            known.setdefault(name, n)

    #: what reading the catalogue keeps under the file's stamp (:meth:`kept_reads`)
    _KEPT_READS = ("_log", "_last", "_counts")

    def kept_reads(self) -> dict:
        """What this process read of the file and keeps under its stamp (the provenance log,
        each layer's last import, layer counts), for another process on the same file
        (:meth:`adopt_reads`)."""
        return {a: getattr(self, a) for a in self._KEPT_READS}

    def adopt_reads(self, reads: dict) -> None:
        """What another process read of this file (:meth:`kept_reads`), where it read the file
        as it is now and this process has not read it (never over what this one read)."""
        if not self.exists():
            return
        stamp = self._stamp()
        for a, theirs in reads.items():
            if a not in self._KEPT_READS or theirs is None or theirs[0] != stamp:
                continue
            mine = getattr(self, a)
            if mine is None or mine[0] != stamp:
                setattr(self, a, theirs)
            elif a == "_counts":
                mine[1].update({k: n for k, n in theirs[1].items() if k not in mine[1]})

    def count(self, name: str) -> int:
        """Features of a layer, kept while the file is unchanged (an atlas asks for the
        counts of its layers on every page it plans)."""
        known = self._known_counts()
        n = known.get(name)
        if n is None:
            n = known[name] = self._kept(("count", name),
                                         lambda: int(_ogr().read_info(self.path, layer=name)["features"]))
        return n

    def _layer(self, name: str, has_geometry: bool):
        """The whole layer, cached per process while the file is unchanged (writes replace
        the file, so its inode and mtime change). Map sheets read the same layers again and
        again: reading once and filtering in memory is the fast path."""
        return self._cached(name, has_geometry)[0]

    def _cached(self, name: str, has_geometry: bool, ints: tuple = ()):
        """(the whole layer, its :class:`RowIndex`), cached as :meth:`_layer` says; ``ints``:
        fields converted to nullable integers once, in the cached layer (where a field holds
        a non-integer value it stays as read, and each read converts its rows as before)."""
        key = (name, has_geometry, tuple(ints))
        stamp = self._stamp()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stamp:
            self._cache.move_to_end(key)
            return hit[1], hit[2]
        df = self._kept(("layer", name, has_geometry), lambda: self._read_layer(name, has_geometry))
        if ints:
            df = nullable_int_fields(df.copy(), ints)
        plain_columns(df)           # as reads give them: the slices taken of it have them from the start
        index = RowIndex(df)
        self._cache[key] = (stamp, df, index)
        while len(self._cache) > 12:
            self._cache.popitem(last=False)
        return df, index

    def _read_layer(self, name: str, has_geometry: bool):
        """The whole layer as GDAL reads it, its geometry column named ``geom`` in Lambert-93."""
        df = _ogr().read_dataframe(self.path, layer=name, read_geometry=has_geometry, use_arrow=True)
        if isinstance(df, gpd.GeoDataFrame):
            if df.geometry.name != "geom":
                df = df.rename_geometry("geom")
            if df.crs is None or df.crs.to_epsg() != 2154:
                df = df.set_crs(TARGET_CRS, allow_override=True)
        return df

    def _kept(self, what: tuple, read):
        """``read()``, an answer of GDAL about this file, kept across processes under the file's
        :meth:`state` (:func:`mbm_sig.catalogue.kept.kept_read`); not while a write is under way."""
        from mbm_sig.catalogue.kept import kept_read
        return kept_read(self.state, what, read)

    def read(self, name: str, bbox=None, where=None, columns=None, has_geometry=True, ints=()):
        if name not in self.layer_names():
            raise KeyError(name)
        df, index = self._cached(name, has_geometry, ints)
        pos = index.positions(where) if where and bbox is None else None
        if pos is not None:
            return index.rows(pos, columns)
        if bbox is None and not where and columns is None:
            # the whole layer: its own frame, sharing the cached columns until it changes them
            # (pandas copy-on-write), not a copy of every column on every map sheet
            return df.copy(deep=False)
        if bbox is not None and isinstance(df, gpd.GeoDataFrame):
            # envelope intersection, as the GeoPackage R-tree filter does
            b = shapely.bounds(df.geometry.values)
            x0, y0, x1, y1 = bbox
            with np.errstate(invalid="ignore"):
                keep = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
            df = df[keep]
        df = filter_frame(df, where)
        if columns is not None:
            df = df[list(columns) + ([df.geometry.name] if isinstance(df, gpd.GeoDataFrame) else [])]
        df = df.reset_index(drop=True).copy()
        if bbox is not None:
            # dtypes of the subset, as the R-tree filtered read gives them (e.g. a bool
            # column whose nulls fell outside the box is bool again)
            obj = [c for c in df.columns if df[c].dtype == object]
            if obj:
                df[obj] = df[obj].infer_objects()
        return df

    def sql(self, query: str, params: dict | None = None):
        """One read-only query (SpatiaLite dialect) on the GeoPackage, opened read-only.

        The query is checked and tokenised first (:func:`bind`): a second statement,
        ``VACUUM INTO``, ``ATTACH``, ``PRAGMA``, file functions… are refused before GDAL
        sees them; GDAL then opens the file read-only, so no write reaches it."""
        pyogrio = _ogr()
        text = bind(query, params)
        self.require()
        try:
            df = pyogrio.read_dataframe(self.path, sql=text, sql_dialect="SQLITE", use_arrow=True)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.GeometryError, pyogrio.errors.FieldError) as exc:
            raise InvalidInput(f"SQL error on GeoPackage {self.path}: {_gdal_message(exc)}") from None
        if isinstance(df, gpd.GeoDataFrame) and df.geometry.name != "geom" and "geom" not in df.columns:
            df = df.rename_geometry("geom")      # same name as read() and the PostGIS backend
        return df

    def require(self) -> None:
        """Refuse to read a catalogue that does not exist (never an empty answer). A file
        found good is not opened again while its stat is the same (map sheets read several
        layers each)."""
        try:
            stamp = self._stamp()
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._required:
            return
        if not self.exists():
            raise CatalogueMissing(f"catalogue {self.path} does not exist: create it with "
                                   f"`mbm-sig --db {self.path} build` (or `import`), or give the "
                                   "right --db / MBM_SIG_DB")
        if not self.path.is_file():
            raise InvalidInput(f"catalogue {self.path} is a folder, not a GeoPackage file")
        with open(self.path, "rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":
            raise InvalidInput(f"catalogue {self.path} is not a GeoPackage (SQLite) file")
        self._required = stamp

    def log(self) -> pd.DataFrame:
        """The provenance log, kept while the file is unchanged (map sheets ask for the
        last import of the communes on every page); a copy, so callers may change it."""
        if not self.exists():
            return pd.DataFrame(columns=["layer", "action", "source", "checksum", "rows",
                                         "imported_at", "tool_version"])
        stamp = self._stamp()
        hit = self._log
        if hit is None or hit[0] != stamp:
            if LOG_TABLE not in self._tables():
                df = pd.DataFrame(columns=["layer", "action", "source", "checksum", "rows",
                                           "imported_at", "tool_version"])
            else:
                df = self._kept(("log",), lambda: _ogr().read_dataframe(self.path, layer=LOG_TABLE,
                                                                        read_geometry=False))
            self._log = hit = (stamp, df)
        return hit[1].copy()

    def last_imports(self, rows_of) -> dict:
        """``rows_of(log)`` (each layer's last provenance row), kept while the file is unchanged."""
        stamp = self._stamp() if self.exists() else None
        if self._last is None or self._last[0] != stamp:
            self._last = (stamp, rows_of(self.log()))
        return self._last[1]

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def _lock(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(str(self.path) + ".lock"):
            yield

    def replace_layers(self, frames: dict, log_rows: list[dict]) -> None:
        """Replace (or create) the given layers and append provenance rows, atomically."""
        pyogrio = _ogr()
        with self._lock():
            # under the lock no other writer runs: temp files left are from killed writers
            for stale in self.path.parent.glob(self.path.name + ".*.tmp.gpkg*"):
                stale.unlink()
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp.gpkg", dir=self.path.parent)
            os.close(fd)
            try:
                if self.exists():
                    shutil.copyfile(self.path, tmp)
                    shutil.copymode(self.path, tmp)      # a shared catalogue stays shared
                else:
                    os.unlink(tmp)
                # the temp copy needs no journal or per-statement sync: durability comes
                # from the fsync and the atomic rename below
                pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF",
                                                 "OGR_SQLITE_JOURNAL": "OFF"})
                try:
                    if Path(tmp).exists():
                        _forget_dropped(tmp, list(frames))
                    for name, frame in frames.items():
                        self._write(tmp, name, frame)
                    for row in log_rows:             # a streamed layer's rows are known now
                        if isinstance(frames.get(row["layer"]), FrameStream):
                            row["rows"] = frames[row["layer"]].rows
                finally:
                    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": None,
                                                     "OGR_SQLITE_JOURNAL": None})
                from mbm_sig.qgis.styles import GPKG_CREATE, write_gpkg_styles
                if log_rows:
                    pyogrio.write_dataframe(pd.DataFrame(log_rows), tmp, layer=LOG_TABLE,
                                            driver="GPKG", append=Path(tmp).exists()
                                            and LOG_TABLE in [n for n, _ in pyogrio.list_layers(tmp)],
                                            **GPKG_CREATE(tmp))
                if Path(tmp).exists():      # QGIS default styles, title and abstract of every layer
                    write_gpkg_styles(tmp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                dirfd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dirfd)
                finally:
                    os.close(dirfd)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    @staticmethod
    def _write(path, name: str, frame) -> None:
        pyogrio = _ogr()
        if isinstance(frame, FrameStream):
            GeoPackageBackend._write_stream(path, name, frame)
            return
        from mbm_sig.qgis.styles import GPKG_CREATE  # a new file is GeoPackage 1.2
        create = GPKG_CREATE(path)
        if isinstance(frame, gpd.GeoDataFrame):
            geom_type = frame.attrs.get("geometry_type")
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", geometry_type=geom_type,
                                    promote_to_multi=False, use_arrow=True,
                                    layer_options={"GEOMETRY_NAME": "geom", "OVERWRITE": "YES",
                                                   "SPATIAL_INDEX": "YES"},
                                    append=False, **create)
        else:
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", use_arrow=True,
                                    layer_options={"OVERWRITE": "YES"}, **create)

    @staticmethod
    def _write_stream(path, name: str, stream: FrameStream) -> None:
        """The checked frames of ``stream`` written as one layer by ONE call of GDAL's Arrow
        writer (one transaction, the R-tree built once at the end), each frame converted as
        ``pyogrio.write_dataframe(use_arrow=True)`` converts a frame: the layer is the one a
        whole-frame write gives. A problem raised by the stream is re-raised as itself."""
        import pyarrow as pa
        from pyogrio.raw import write_arrow

        from mbm_sig.qgis.styles import GPKG_CREATE
        frames = iter(stream)
        first = next(frames, None)          # the stream raises if the file is empty or bad
        if first is None:
            raise ValueError(f"layer {name}: a streamed import gave no rows")
        head = arrow_table(first)
        geo = isinstance(first, gpd.GeoDataFrame)
        failure = []

        def batches():
            try:
                yield from head.to_batches()
                for frame in frames:
                    yield from arrow_table(frame, head.schema).to_batches()
            except BaseException as exc:      # noqa: B036 - kept, re-raised after GDAL stops
                failure.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(head.schema, batches())
        options = {"GEOMETRY_NAME": "geom", "SPATIAL_INDEX": "YES"} if geo else {}
        try:
            write_arrow(reader, path, layer=name, driver="GPKG", append=False,
                        geometry_name="geom" if geo else None,
                        geometry_type=(first.attrs.get("geometry_type") or "Unknown") if geo else None,
                        crs=TARGET_CRS if geo else None,
                        layer_options=dict(options, OVERWRITE="YES"), **GPKG_CREATE(path))
        except Exception:
            if failure:
                raise failure[0] from None
            raise
        if failure:
            raise failure[0]


def arrow_table(frame, schema=None):
    """A checked frame as the Arrow table ``pyogrio.write_dataframe(use_arrow=True)`` writes
    (geometry as WKB in ``geom``, an all-empty column as text), cast to ``schema`` if given
    (the first batch's: every batch of a layer has the same columns)."""
    import pyarrow as pa
    geo = isinstance(frame, gpd.GeoDataFrame)
    gname = frame.geometry.name if geo else None
    df = pd.DataFrame(frame.drop(columns=[gname]) if geo else frame, copy=False)
    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.with_type(pa.string()), table[i].cast(pa.string()))
    if geo:
        table = table.append_column("geom", pa.array(shapely.to_wkb(frame.geometry.values), pa.binary()))
    return table if schema is None else table.cast(schema)
