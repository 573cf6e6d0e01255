"""mbm-sig: spatial catalogue and map production for the Mission Bassin Minier."""

__version__ = "0.1.0"

__all__ = ["Catalogue", "__version__"]


def __getattr__(name):
    # the catalogue (geopandas, pandas, pyogrio) only when asked for: `mbm-sig --version`,
    # `--help` and the commands that do not read layers start without it
    if name == "Catalogue":
        from mbm_sig.catalogue import Catalogue
        return Catalogue
    raise AttributeError(f"module 'mbm_sig' has no attribute {name!r}")
