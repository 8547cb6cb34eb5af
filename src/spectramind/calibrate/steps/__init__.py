"""Calibration steps, one module each (JWST ``calwebb_detector1`` style).

Every module defines ``NAME``, a frozen ``Params`` dataclass (fields carry units in comments)
and pure numpy functions over arrays. The order in which they run lives in
:mod:`spectramind.calibrate.pipeline`; nothing here reads files.

Array conventions: time-ordered frames are ``(n_frames, n_pixels)`` where the pixels are the
selected (cropped) detector pixels in row-major order; images are ``(..., rows, cols)``.
"""
