"""QGIS: default styles in ``layer_styles`` (both backends) and a QGIS project over the
catalogue (layers by theme, print layouts of the map recipes, atlas layouts of the
coverage sheets). Nothing here imports PyQGIS: the files are written directly."""
