"""Hash each raw input once, not once per job and run: reuse a recorded SHA-256 (issue 15).

A calibrate job's inputs are ~500 MB of raw parquet per visit; hashing them at every job of
every run (a user iterating on calibration reruns hundreds of times) costs as much as reading
them. A wrapper therefore reuses the hash an earlier record gave a file when the file provably
has not changed since, and says so in the input's entry (``"hash_source": "reused from ..."``).

**What "not changed" means.** Each entry hashed here carries the file's ``stat`` fingerprint
taken just before hashing: size, ``mtime_ns``, ``ctime_ns``, inode and device. A hash is reused
only when all five are equal now. Writing to a file changes its mtime and ctime; restoring the
mtime (``touch -d``, ``os.utime``) sets the ctime to the current time, which no unprivileged
call can set back, and replacing the file (``mv``, an editor's save) gives it a new inode. So
a file modified with the same size and a restored mtime is **caught**: it is hashed again and
the lineage check (:mod:`spectramind.repro.lineage`) compares the new hash with its producer's
record. ``tests/test_cheap_jobs.py`` shows it.

Known limits, as for ``git``'s and ``make``'s stat checks: someone able to set the system
clock back or to edit the block device under the filesystem (root) can forge a ctime; a
filesystem that does not keep ctime (some FUSE or object-store mounts) leaves only the mtime;
there ``SPECTRAMIND_HASH_REUSE=0`` hashes every input every time.

**Racy files.** A file written within :data:`RACY_WINDOW_NS` before its hashing began might be
written again within the same timestamp tick (coarse-clock filesystems, NFS), leaving its
fingerprint unchanged; such an entry records no fingerprint, so it is never reused (git's
"racy clean" rule). Same if the file's fingerprint changed while it was being hashed.

**Where hashes are found.** Each reusable entry is indexed under ``<runs root>/.hashes/``: one
small JSON file per path (named by the SHA-256 of the path key, as
:mod:`spectramind.repro.lineage` does) pointing at the byte offset of the record line that holds
it. The index is only a pointer: the reused hash and fingerprint are read back from that record
line, and anything that does not match (a pruned run, an edited index) means hashing again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spectramind.repro.hashing import iter_files, sha256_file
from spectramind.repro.lineage import path_key

log = logging.getLogger(__name__)

HASH_INDEX_DIR = ".hashes"
ENV_HASH_REUSE = "SPECTRAMIND_HASH_REUSE"
#: A file changed this recently before its hashing began is not trusted to show a later change
#: in its fingerprint (timestamp granularity of coarse clocks, FAT's 2 s, NFS attribute caching).
RACY_WINDOW_NS = 2_000_000_000
HASHED = "hashed"
REUSED_PREFIX = "reused from "


def reuse_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``SPECTRAMIND_HASH_REUSE`` is ``0``/``false``/``no``/``off``."""
    value = (environ if environ is not None else os.environ).get(ENV_HASH_REUSE, "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def fingerprint(st: os.stat_result) -> dict[str, int]:
    """What must be unchanged for a recorded hash to be reused."""
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
    }


def _index_file(root: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return root / HASH_INDEX_DIR / digest[:2] / f"{digest}.json"


def describe_source(record: Mapping[str, Any], events: str) -> str:
    """``"<stage>/<run_id>/<attempt> (<events file>)"``: the record a hash was taken from."""
    return (
        f"{record.get('stage', '?')}/{record.get('run_id', '?')}/"
        f"{str(record.get('attempt', '?'))[:12]} ({events})"
    )


_Cache = dict[tuple[str, int], "dict[str, tuple[dict[str, Any], str]] | None"]


def _recorded(root: Path, key: str, cache: _Cache) -> tuple[dict[str, Any], str] | None:
    """The entry (with ``sha256`` and ``stat``) that the indexed record line holds for ``key``,
    and a description of that record; None when the index or the record does not hold one.
    ``cache`` keeps each record line read once, as {path key: (entry, description)}."""
    try:
        pointer = json.loads(_index_file(root, key).read_text())
        events, offset = str(pointer["events"]), int(pointer["offset"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    slot = (events, offset)
    if slot not in cache:
        record = None
        try:
            with open(root / events, "rb") as handle:
                handle.seek(offset)
                line = handle.readline()
            record = json.loads(line) if line.endswith(b"\n") else None
        except (OSError, ValueError):
            record = None
        entries = None
        if isinstance(record, dict):
            source = describe_source(record, events)
            entries = {
                path_key(entry["path"]): (entry, source)
                for entry in [*(record.get("inputs") or []), *(record.get("artifacts") or [])]
                if isinstance(entry, dict) and entry.get("stat") and "path" in entry
            }
        cache[slot] = entries
    entries = cache[slot]
    return None if entries is None else entries.get(key)


def hash_entry(path: Path, root: Path | None, cache: _Cache | None = None) -> dict[str, Any]:
    """``{path, size, sha256, hash_source[, stat]}`` of one file; a recorded hash when its
    fingerprint still matches (``root``: the runs root holding the index, None: never reuse)."""
    st = os.stat(path)
    now_print = fingerprint(st)
    if root is not None and reuse_enabled():
        found = _recorded(root, path_key(str(path)), cache if cache is not None else {})
        if found is not None and found[0]["stat"] == now_print:
            entry, source = found
            return {
                "path": str(path),
                "size": st.st_size,
                "sha256": entry["sha256"],
                "hash_source": REUSED_PREFIX + source,
                "stat": now_print,
            }
    began = time.time_ns()
    digest = sha256_file(path)
    out: dict[str, Any] = {
        "path": str(path),
        "size": st.st_size,
        "sha256": digest,
        "hash_source": HASHED,
    }
    settled = began - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_WINDOW_NS
    if settled and fingerprint(os.stat(path)) == now_print:
        out["stat"] = now_print  # reusable by later jobs
    return out


def file_entries(paths: Iterable[str], root: Path | str | None) -> list[dict[str, Any]]:
    """:func:`spectramind.repro.hashing.file_entries` with recorded hashes reused."""
    root_path = Path(root) if root is not None else None
    cache: _Cache = {}
    return [hash_entry(file, root_path, cache) for given in paths for file in iter_files(given)]


def index_entries(
    root: Path | str, events_file: Path | str, offset: int, entries: Iterable[Mapping[str, Any]]
) -> int:
    """Point the index at the record line (``events_file`` at ``offset``) for every entry this
    job hashed with a fingerprint; return how many. Failures are logged, never raised."""
    root = Path(root)
    events = os.path.relpath(os.path.abspath(events_file), os.path.abspath(root))
    count = 0
    for entry in entries:
        if not entry.get("stat") or entry.get("hash_source") != HASHED:
            continue
        target = _index_file(root, path_key(entry["path"]))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"events": events, "offset": offset, "path": entry["path"]}))
            os.replace(tmp, target)
            count += 1
        except OSError as err:
            log.warning("cannot index the hash of %s: %s", entry["path"], err)
    return count
