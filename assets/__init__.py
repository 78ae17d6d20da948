"""Data the project itself makes, shipped in the package: presets (``presets/*.json``)."""
