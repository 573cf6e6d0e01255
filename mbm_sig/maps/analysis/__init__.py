"""Spatial analyses behind some map types, as pure functions on arrays and shapely
geometries (no drawing): Stewart potentials (:mod:`.potential`), discontinuities between
neighbouring units (:mod:`.discontinuities`), bivariate classes (:mod:`.bivariate`) and
the scale of two-stock symbols (:mod:`.stocks`)."""
