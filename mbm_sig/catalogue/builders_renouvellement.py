"""Builders of the renewal and mining-aftermath layers (concessions, renouvellement_urbain,
grands_projets), from the facts of data/*.csv and the mine shafts."""

from __future__ import annotations
