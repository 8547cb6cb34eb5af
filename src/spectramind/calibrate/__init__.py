"""Calibration: raw detector frames of one planet visit -> light curves (docs/calibration.md).

A regular package (not a namespace package) so that the import contracts see its modules.
"""
