"""The audit package of a run: a Provenance Run Crate (RO-Crate) export and its validation.

A tool over finished runs (it reads the manifests of :mod:`spectramind.repro` and the offline
CVE result of :mod:`spectramind.supply`), so it sits above both in the import layers.
"""
