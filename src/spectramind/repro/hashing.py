"""Streamed SHA-256 of files and folders for run manifests (ADR 0006 layer 1).

Files are read in 1 MiB blocks so memory stays flat on multi-GB detector frames. A declared
output that is a folder is expanded into one entry per file inside it (sorted, relative paths
joined onto the folder), so every byte a stage produced is covered by a hash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BLOCK_SIZE = 1 << 20  # 1 MiB


@dataclass(frozen=True)
class FileEntry:
    """One file in a manifest: ``path`` as given (or inside a given folder), size in bytes."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path | str, block_size: int = BLOCK_SIZE) -> str:
    """Hex SHA-256 of a file's bytes, read in ``block_size`` blocks."""
    digest = hashlib.sha256()
    buffer = bytearray(block_size)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def iter_files(path: Path | str) -> list[Path]:
    """``[path]`` for a file; every regular file below a folder, sorted; ``[]`` if missing."""
    path = Path(path)
    if path.is_dir():
        found = []
        for folder, subfolders, names in os.walk(path):
            subfolders.sort()
            found.extend(Path(folder) / name for name in sorted(names))
        return [p for p in found if p.is_file()]
    return [path] if path.is_file() else []


def file_entries(paths: list[str] | tuple[str, ...]) -> list[FileEntry]:
    """Hash every file named by ``paths`` (folders expanded). Missing paths are skipped."""
    entries = []
    for given in paths:
        for file in iter_files(given):
            entries.append(FileEntry(str(file), file.stat().st_size, sha256_file(file)))
    return entries
