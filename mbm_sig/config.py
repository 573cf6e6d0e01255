"""Settings: where the catalogue, the open-data mirror and the outputs live.

Every setting comes from the environment (or the CLI, which sets the same values):

- ``MBM_SIG_DB``: catalogue URL. A ``postgresql://`` URL selects PostGIS; anything else is a
  path to the embedded GeoPackage (default ``var/catalogue.gpkg`` in the project).
- ``MBM_SIG_DATA_DIR``: the local mirror of the official open-data downloads
  (default ``../shared/data`` beside the project when present, else ``var/mirror``).
- ``MBM_SIG_OUT``: output folder for maps and atlases (default ``out``).
- ``MBM_SIG_CACHE``: cache for registry packages and tiles (default ``var/cache``).
- ``MBM_SIG_CONNECT_TIMEOUT``: seconds to wait for a PostGIS server (default 10).
- ``MBM_SIG_STATEMENT_TIMEOUT``: seconds a PostGIS statement may run (default 0: no limit).
- ``MBM_SIG_PG_READER_ROLE``: role ``sql`` runs as on PostGIS (default ``mbm_reader``).
- ``MBM_SIG_PG_READER_URL``: optional ``postgresql://`` URL ``sql`` connects with (a login
  role with read privileges only), instead of switching role on the catalogue's connection.
- ``MBM_SIG_MAX_IMPORT_MB``: largest file ``import`` reads (default 512 MB).
- ``MBM_SIG_MAX_IMPORT_FEATURES``: most features ``import`` reads (default 1 000 000).
- ``MBM_SIG_DEFINITIONS``: a folder with an agency's own ``layers/``, ``atlases/`` and
  ``data/`` (default: the checkout's, or the copy installed with the package).

``var/`` is the checkout's; an installed package (a wheel) uses ``var/`` in the working folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: a source checkout (layers/ next to the package) or an installed wheel
IN_CHECKOUT = (PROJECT_ROOT / "layers" / "sources.yaml").is_file() and (PROJECT_ROOT / "pyproject.toml").is_file()
#: the wheel's copy of layers/, atlases/ and data/ (made by setup.py at build time)
PACKAGED_DEFINITIONS = Path(__file__).resolve().parent / "_definitions"


def definitions_root() -> Path:
    """Folder holding ``layers/``, ``atlases/`` and ``data/``: ``MBM_SIG_DEFINITIONS`` (an
    agency's own definitions), else the checkout's, else the installed package's."""
    env = os.environ.get("MBM_SIG_DEFINITIONS")
    if env:
        return Path(env).expanduser().resolve()
    return PROJECT_ROOT if IN_CHECKOUT else PACKAGED_DEFINITIONS


def check_definitions() -> None:
    """A clear error when ``MBM_SIG_DEFINITIONS`` names no definitions folder (checked when
    the definitions are first read, not at import)."""
    if not (LAYERS_DIR / "sources.yaml").is_file():
        from mbm_sig.errors import InvalidInput
        env = os.environ.get("MBM_SIG_DEFINITIONS")
        where = f"MBM_SIG_DEFINITIONS={env}" if env else "the installed package"
        raise InvalidInput(f"{where}: no layers/sources.yaml in {DEFINITIONS_DIR} "
                           "(a definitions folder holds layers/, atlases/ and data/)")


DEFINITIONS_DIR = definitions_root()
LAYERS_DIR = DEFINITIONS_DIR / "layers"
ATLASES_DIR = DEFINITIONS_DIR / "atlases"
FACTS_DIR = DEFINITIONS_DIR / "data"

TARGET_CRS = "EPSG:2154"
TARGET_EPSG = 2154
#: plausible extent of Nord-Pas-de-Calais in Lambert-93 (xmin, ymin, xmax, ymax), with a margin
NPDC_EXTENT = (560_000.0, 6_900_000.0, 800_000.0, 7_140_000.0)


@dataclass(frozen=True)
class Settings:
    db_url: str
    data_dir: Path
    out_dir: Path
    cache_dir: Path
    connect_timeout: float = 10.0
    statement_timeout: float = 0.0
    reader_role: str = "mbm_reader"
    reader_url: str | None = None
    max_import_mb: float = 512.0
    max_import_features: int = 1_000_000

    @property
    def is_postgis(self) -> bool:
        return self.db_url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def settings(db_url: str | None = None, data_dir: str | os.PathLike | None = None) -> Settings:
    """Current settings, with explicit arguments taking precedence over the environment."""
    var = PROJECT_ROOT / "var" if IN_CHECKOUT else Path.cwd() / "var"     # installed: the working folder
    return Settings(
        db_url=db_url or os.environ.get("MBM_SIG_DB") or str(var / "catalogue.gpkg"),
        data_dir=Path(data_dir or os.environ.get("MBM_SIG_DATA_DIR") or default_data_dir()),
        out_dir=Path(os.environ.get("MBM_SIG_OUT") or PROJECT_ROOT / "out"),
        cache_dir=Path(os.environ.get("MBM_SIG_CACHE") or var / "cache"),
        connect_timeout=_number("MBM_SIG_CONNECT_TIMEOUT", 10.0),
        statement_timeout=_number("MBM_SIG_STATEMENT_TIMEOUT", 0.0),
        reader_role=os.environ.get("MBM_SIG_PG_READER_ROLE") or "mbm_reader",
        reader_url=os.environ.get("MBM_SIG_PG_READER_URL") or None,
        max_import_mb=_number("MBM_SIG_MAX_IMPORT_MB", 512.0),
        max_import_features=int(_number("MBM_SIG_MAX_IMPORT_FEATURES", 1_000_000)),
    )


def _number(var: str, default: float) -> float:
    """A non-negative number from the environment variable ``var``; a clear error otherwise."""
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1
    if not value >= 0 or value == float("inf"):
        from mbm_sig.errors import InvalidInput
        raise InvalidInput(f"setting {var}={raw!r}: expected a number >= 0")
    return value


def default_data_dir() -> Path:
    """The open-data mirror when ``MBM_SIG_DATA_DIR`` is unset: ``../shared/data`` beside the
    project when it exists (the agency machines), else ``var/mirror`` (the Makefile's rule)."""
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else PROJECT_ROOT / "var" / "mirror"


def load_yaml(stream):
    """``yaml.safe_load`` with libyaml's C parser when PyYAML has it (several times faster:
    an atlas run reads some fifty layer definitions and recipes)."""
    import yaml
    return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
