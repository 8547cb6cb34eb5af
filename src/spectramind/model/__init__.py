"""Learned correction of the physics depths and per-wavelength sigmas (``spectramind train``).

Files in the nanoGPT split: :mod:`.config` (hyperparameters), :mod:`.data` (feature files and
labels to arrays, hold-out split, spectral basis), :mod:`.net` (the model), :mod:`.train` (the
loop, ``train(cfg, data)``) and :mod:`.predict` (checkpoint to Predictions file).
"""
