"""Spatial analyses behind some map types, as pure functions on arrays and shapely
geometries (no drawing): Stewart potentials (:mod:`.potential`), discontinuities between
neighbouring units (:mod:`.discontinuities`) and bivariate classes (:mod:`.bivariate`)."""
