"""Mineral-system recipes (``layers/*.yaml``) and evidence-stack building.

A recipe names a mineral system, its commodities, the regions it supports, the
datasets it uses, its evidence layers (an evidence function, the data it reads and
its parameters, optionally followed by transforms), the training occurrences and
the default model.  :func:`load_recipe` validates a recipe completely (unknown keys,
datasets, regions, functions, parameters, commodities and deposit classes are
errors that name the file and the key); :func:`build_evidence` turns it into the
evidence stack of one region at one resolution: an ``xarray.Dataset`` with one
variable per evidence layer plus ``coverage``.

>>> from geomap.recipes import load_recipe, recipe_names
>>> "carbonatite-ree" in recipe_names()
True
>>> load_recipe("carbonatite-ree").model.name
'wofe'
"""

from __future__ import annotations

from geomap.recipes.build import build_evidence
from geomap.recipes.functions import evidence_functions
from geomap.recipes.loading import load_recipe, recipe_names, select_end_use
from geomap.recipes.schema import (
    MODEL_NAMES,
    LayerSpec,
    ModelSpec,
    Recipe,
    SourceSpec,
    TrainingSpec,
    TransformSpec,
)
from geomap.recipes.source_choice import resolve_sources, with_user_data
from geomap.recipes.training_sites import audit_sites, training_candidates, training_occurrences

__all__ = [
    "MODEL_NAMES",
    "LayerSpec",
    "ModelSpec",
    "Recipe",
    "SourceSpec",
    "TrainingSpec",
    "TransformSpec",
    "audit_sites",
    "build_evidence",
    "evidence_functions",
    "load_recipe",
    "recipe_names",
    "resolve_sources",
    "select_end_use",
    "training_candidates",
    "training_occurrences",
    "with_user_data",
]
