"""SpectraMind: a reproducible pipeline for the NeurIPS 2025 Ariel Data Challenge."""

__version__ = "0.1.0"
