"""ADR 0006 reproducibility layer: determinism guardrails, run manifests, config snapshots."""
