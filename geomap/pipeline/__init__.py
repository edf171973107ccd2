"""Running a recipe end to end: stages, product cache, provenance manifest, progress."""
