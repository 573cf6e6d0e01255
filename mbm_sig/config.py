"""Settings: where the catalogue, the open-data mirror and the outputs live.

Every setting comes from the environment (or the CLI, which sets the same values):

- ``MBM_SIG_DB``: catalogue URL. A ``postgresql://`` URL selects PostGIS; anything else is a
  path to the embedded GeoPackage (default ``var/catalogue.gpkg`` in the project).
- ``MBM_SIG_DATA_DIR``: the local mirror of the official open-data downloads
  (default ``var/mirror``; CI points it at ``../shared/data``).
- ``MBM_SIG_OUT``: output folder for maps and atlases (default ``out``).
- ``MBM_SIG_CACHE``: cache for registry packages and tiles (default ``var/cache``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAYERS_DIR = PROJECT_ROOT / "layers"
ATLASES_DIR = PROJECT_ROOT / "atlases"
FACTS_DIR = PROJECT_ROOT / "data"

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

    @property
    def is_postgis(self) -> bool:
        return self.db_url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def settings(db_url: str | None = None, data_dir: str | os.PathLike | None = None) -> Settings:
    """Current settings, with explicit arguments taking precedence over the environment."""
    var = PROJECT_ROOT / "var"
    return Settings(
        db_url=db_url or os.environ.get("MBM_SIG_DB") or str(var / "catalogue.gpkg"),
        data_dir=Path(data_dir or os.environ.get("MBM_SIG_DATA_DIR") or var / "mirror"),
        out_dir=Path(os.environ.get("MBM_SIG_OUT") or PROJECT_ROOT / "out"),
        cache_dir=Path(os.environ.get("MBM_SIG_CACHE") or var / "cache"),
    )


def load_yaml(stream):
    """``yaml.safe_load`` with libyaml's C parser when PyYAML has it (several times faster:
    an atlas run reads some fifty layer definitions and recipes)."""
    import yaml
    return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
