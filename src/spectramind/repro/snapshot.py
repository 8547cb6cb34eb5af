"""Config snapshots (ADR 0006 layer 2): the resolved config frozen once per run.

The snapshot is canonical YAML (sorted keys, block style, plain JSON types), so the same config
gives the same bytes and the same SHA-256 on any machine.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from spectramind.errors import ConfigError
from spectramind.repro.hashing import sha256_file

SNAPSHOT_NAME = "config.snapshot.yaml"


def canonical_yaml(config: dict[str, Any]) -> str:
    """``config`` as canonical YAML text; values are first reduced to JSON types."""
    import yaml  # not at import: every job's wrapper imports this module (issue 15)

    plain = json.loads(json.dumps(config, default=str, sort_keys=True))
    return yaml.safe_dump(
        plain, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000
    )


def snapshot_path(run_id: str, root: Path | str) -> Path:
    """Where the snapshot of ``run_id`` lives: ``<root>/<run_id>/config.snapshot.yaml``."""
    return Path(root) / run_id / SNAPSHOT_NAME


def freeze_config(
    config: dict[str, Any], run_id: str, root: Path | str = "artifacts/runs"
) -> tuple[Path, str]:
    """Write the snapshot of ``run_id`` once; return (path, sha256).

    Idempotent: an existing snapshot with the same bytes is kept. An existing snapshot with other
    bytes raises :class:`ConfigError` (one run, one config). Creation is race-free: the text goes
    to a temporary file that is hard-linked into place, which fails if another process won.
    """
    data = canonical_yaml(config).encode()
    path = snapshot_path(run_id, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{SNAPSHOT_NAME}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    if path.read_bytes() != data:
        raise ConfigError(
            f"config snapshot {path} already exists with a different config: "
            f"run {run_id} cannot change its config (start a new run)"
        )
    return path, sha256_file(path)
