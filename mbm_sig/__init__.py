"""mbm-sig: spatial catalogue and map production for the Mission Bassin Minier."""

__version__ = "0.1.0"

from mbm_sig.catalogue import Catalogue  # noqa: E402

__all__ = ["Catalogue", "__version__"]
