"""Tamper evidence along the lineage: check a file against the record of the job that made it.

Every ``ok`` record lists the artifacts its job produced with their SHA-256. Before a job runs,
the wrapper (:mod:`spectramind.repro.stage`) hashes its inputs and calls :func:`check_inputs`:
an input that some recorded job produced must still have the hash that job recorded, or the
job is refused (:class:`TamperedInputError`, naming the file and both hashes). Raw data that no
job produced has nothing to be checked against and passes.

Finding the producer must not mean reading every record of every run (a real run has thousands
of jobs), so each ``ok`` record's artifacts are indexed under ``<root>/.lineage/``: one small
JSON file per artifact path (named by the SHA-256 of the path) pointing at the byte offset of
the record in its ``events.jsonl``. The index is a cache of the records: an entry is trusted
only if the line at that offset is an ``ok`` record listing the path; a hash that disagrees with
the indexed record is confirmed against a scan of all records before a job is refused (a later
record whose index write failed wins). :func:`ensure_index` rebuilds a missing index.

The reusable pieces: :func:`verify_file` (one file against one ``{path, size, sha256}`` entry),
:func:`verify_against_record` (a file against a record's artifact, e.g. a checkpoint shipped
with its training record), :func:`verify_consumed` (a file against its recorded producer).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectramind.errors import SpectraMindError
from spectramind.repro.hashing import file_entries, sha256_file
from spectramind.repro.manifest import EVENTS_NAME, STATUS_OK, manifest_enabled

log = logging.getLogger(__name__)

INDEX_DIR = ".lineage"
_READY = "READY"


class TamperedInputError(SpectraMindError):
    """A file does not have the SHA-256 that the job which produced it recorded."""

    def __init__(self, mismatches: list[Mismatch]):
        self.mismatches = mismatches
        first = mismatches[0]
        more = f" (and {len(mismatches) - 1} more input(s) differ)" if len(mismatches) > 1 else ""
        super().__init__(f"refusing to use {first}{more}")


@dataclass(frozen=True)
class Mismatch:
    """A file whose bytes differ from a record: what was recorded, what is there, and by whom."""

    path: str
    expected_sha256: str
    expected_size: int
    found_sha256: str | None  # None: the file is missing
    found_size: int | None
    source: str  # the record, e.g. "train run 20250101_120000 (rule train)"

    def __str__(self) -> str:
        if self.found_sha256 is None:
            return f"{self.path}: missing, {self.source} recorded sha256 {self.expected_sha256}"
        return (
            f"{self.path}: sha256 {self.found_sha256} ({self.found_size} bytes), but "
            f"{self.source} recorded sha256 {self.expected_sha256} ({self.expected_size} bytes)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "expected_sha256": self.expected_sha256,
            "found_sha256": self.found_sha256,
            "source": self.source,
        }


def describe_record(record: Mapping[str, Any]) -> str:
    """``"<stage> run <run_id> (rule <rule> <wildcards>)"`` for messages."""
    wildcards = record.get("wildcards") or {}
    where = " ".join(f"{key}={value}" for key, value in sorted(wildcards.items()))
    rule = record.get("rule") or record.get("stage")
    return (
        f"{record.get('stage', '?')} run {record.get('run_id', '?')} "
        f"(rule {rule}{' ' + where if where else ''})"
    )


def path_key(path: Path | str, base: Path | str | None = None) -> str:
    """The path as records name it: relative to ``base`` (default: the current folder) when
    inside it, else absolute; normalised, symlinks not resolved (so a copied workspace keeps
    its keys)."""
    base = os.path.abspath(base if base is not None else os.getcwd())
    absolute = os.path.normpath(os.path.join(base, os.fspath(path)))
    relative = os.path.relpath(absolute, base)
    return absolute if relative == ".." or relative.startswith("../") else relative


def verify_file(
    path: Path | str,
    expected: Mapping[str, Any],
    source: str = "the record",
    sha256: str | None = None,
) -> Mismatch | None:
    """Compare a file with a ``{size, sha256}`` entry; None when it matches.

    ``sha256`` skips hashing when the caller has hashed the file already.
    """
    path = Path(path)
    if not path.is_file():
        return Mismatch(str(path), expected["sha256"], expected["size"], None, None, source)
    size = path.stat().st_size
    digest = sha256 if sha256 is not None else sha256_file(path)
    if digest == expected["sha256"] and size == expected["size"]:
        return None
    return Mismatch(str(path), expected["sha256"], expected["size"], digest, size, source)


def artifact_entry(
    record: Mapping[str, Any], path: Path | str, base: Path | str | None = None
) -> dict[str, Any] | None:
    """The ``{path, size, sha256}`` artifact of ``record`` that names ``path``, or None."""
    key = path_key(path, base)
    for artifact in record.get("artifacts") or []:
        if path_key(artifact["path"], base) == key:
            return artifact
    return None


def verify_against_record(
    path: Path | str,
    record: Mapping[str, Any],
    recorded_path: str | None = None,
    base: Path | str | None = None,
) -> Mismatch | None:
    """Check ``path`` against the artifact ``recorded_path`` (default: ``path``) of ``record``.

    For a file that travelled without its workspace (a checkpoint in a Kaggle bundle with its
    training record) pass the path the record names as ``recorded_path``. Raises
    :class:`SpectraMindError` when the record lists no such artifact or is not ``ok``.
    """
    if record.get("status") != STATUS_OK:
        raise SpectraMindError(
            f"{describe_record(record)} is {record.get('status')!r}, not ok: it vouches for nothing"
        )
    entry = artifact_entry(record, recorded_path or path, base)
    if entry is None:
        raise SpectraMindError(
            f"{describe_record(record)} lists no artifact {recorded_path or path}"
        )
    return verify_file(path, entry, describe_record(record))


# --- the producer index ------------------------------------------------------------------------


@dataclass(frozen=True)
class Producer:
    """The ``ok`` record that produced a file, and that file's entry in it."""

    record: dict[str, Any]
    artifact: dict[str, Any]

    def describe(self) -> str:
        return describe_record(self.record)


def _index_file(root: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return root / INDEX_DIR / digest[:2] / f"{digest}.json"


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def index_record(
    root: Path | str,
    events_file: Path | str,
    offset: int,
    record: Mapping[str, Any],
    base: Path | str | None = None,
) -> int:
    """Point the index entry of each artifact of an ``ok`` record at it; return how many.

    A failure to write is logged, not raised: the record itself is the truth, and
    :func:`check_inputs` falls back to scanning records when the index disagrees.
    """
    if record.get("status") != STATUS_OK:
        return 0
    root = Path(root)
    events = os.path.relpath(os.path.abspath(events_file), os.path.abspath(root))
    count = 0
    for artifact in record.get("artifacts") or []:
        key = path_key(artifact["path"], base)
        entry = {
            "path": artifact["path"],
            "key": key,
            "sha256": artifact["sha256"],
            "size": artifact["size"],
            "events": events,
            "offset": offset,
        }
        try:
            _write_json_atomic(_index_file(root, key), entry)
            count += 1
        except OSError as err:
            log.warning("cannot index %s in %s: %s", artifact["path"], root / INDEX_DIR, err)
    return count


def _record_at(events_file: Path, offset: int) -> dict[str, Any] | None:
    try:
        with open(events_file, "rb") as handle:
            handle.seek(offset)
            line = handle.readline()
        record = json.loads(line) if line.endswith(b"\n") else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


_RecordCache = dict[tuple[str, int], "tuple[dict[str, Any], dict[str, dict[str, Any]]] | None"]


def _indexed_record(
    events_file: Path, offset: int, base: Path | str | None, cache: _RecordCache | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
    """(record, {path key: artifact}) of the ``ok`` record at ``offset``, read once per cache
    (the inputs of one job often share a producer: every raw file of a visit, simulate's)."""
    slot = (str(events_file), offset)
    if cache is not None and slot in cache:
        return cache[slot]
    record = _record_at(events_file, offset)
    found = None
    if record is not None and record.get("status") == STATUS_OK:
        artifacts = {path_key(a["path"], base): a for a in record.get("artifacts") or []}
        found = (record, artifacts)
    if cache is not None:
        cache[slot] = found
    return found


def producer(
    root: Path | str,
    path: Path | str,
    base: Path | str | None = None,
    cache: _RecordCache | None = None,
) -> Producer | None:
    """The indexed ``ok`` record that last produced ``path``; None if none (or the index entry
    does not point at such a record). ``cache`` (a dict) shares record reads between calls."""
    root = Path(root)
    key = path_key(path, base)
    try:
        entry = json.loads(_index_file(root, key).read_text())
        events_file, offset = root / entry["events"], int(entry["offset"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    found = _indexed_record(events_file, offset, base, cache)
    if found is None or key not in found[1]:
        return None
    return Producer(found[0], found[1][key])


def _events_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.glob(f"*/*/{EVENTS_NAME}") if not p.parent.parent.name.startswith(".")
    )


def _ok_lines(events_file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, record) of every whole ``ok`` line of one events file."""
    offset = 0
    with open(events_file, "rb") as handle:
        for line in handle:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("status") == STATUS_OK:
                yield start, record


def scan_producer(
    root: Path | str, path: Path | str, base: Path | str | None = None
) -> tuple[Producer, Path, int] | None:
    """The latest ``ok`` record producing ``path``, found by reading every events file (slow)."""
    root = Path(root)
    best: tuple[Producer, Path, int] | None = None
    for events_file in _events_files(root):
        for offset, record in _ok_lines(events_file):
            artifact = artifact_entry(record, path, base)
            if artifact is None:
                continue
            if best is None or record.get("time_utc", "") >= best[0].record.get("time_utc", ""):
                best = (Producer(record, artifact), events_file, offset)
    return best


def rebuild_index(root: Path | str, base: Path | str | None = None) -> int:
    """Index every ``ok`` record under ``root`` (later records win); return the entries written."""
    root = Path(root)
    latest: dict[str, tuple[str, Path, int, dict[str, Any]]] = {}
    for events_file in _events_files(root):
        for offset, record in _ok_lines(events_file):
            for artifact in record.get("artifacts") or []:
                key = path_key(artifact["path"], base)
                time = record.get("time_utc", "")
                if key not in latest or time >= latest[key][0]:
                    latest[key] = (time, events_file, offset, record)
    count = 0
    written: set[tuple[Path, int]] = set()
    for _, events_file, offset, record in latest.values():
        if (events_file, offset) not in written:
            written.add((events_file, offset))
            count += index_record(root, events_file, offset, record, base)
    return count


def ensure_index(root: Path | str, base: Path | str | None = None) -> None:
    """Build the index once for records written before it existed (marker ``.lineage/READY``)."""
    root = Path(root)
    marker = root / INDEX_DIR / _READY
    if marker.exists() or not root.is_dir():
        return
    count = rebuild_index(root, base)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("lineage index of the records under this folder\n")
    log.info("indexed %d recorded artifacts under %s", count, root / INDEX_DIR)


def drop_stale_index(root: Path | str) -> int:
    """Remove index entries whose events file is gone (after pruning); return how many."""
    root = Path(root)
    removed = 0
    for entry_file in (root / INDEX_DIR).glob("*/*.json"):
        try:
            entry = json.loads(entry_file.read_text())
        except (OSError, ValueError):
            entry = {}
        if not (root / entry.get("events", "\0")).is_file():
            entry_file.unlink(missing_ok=True)
            removed += 1
    return removed


def check_inputs(
    root: Path | str,
    entries: Iterable[Mapping[str, Any]],
    base: Path | str | None = None,
) -> list[Mismatch]:
    """Compare hashed inputs (``{path, size, sha256}``) with the records that produced them.

    Inputs no recorded job produced (raw data) pass. An input whose hash differs from its
    indexed producer is looked up once more in all records; it fails only if the latest
    producer disagrees too.
    """
    root = Path(root)
    mismatches = []
    cache: _RecordCache = {}
    for entry in entries:
        found = producer(root, entry["path"], base, cache)
        if found is None or found.artifact["sha256"] == entry["sha256"]:
            continue
        latest = scan_producer(root, entry["path"], base)
        if latest is not None and latest[0].artifact["sha256"] == entry["sha256"]:
            index_record(root, latest[1], latest[2], latest[0].record, base)
            continue
        use = latest[0] if latest is not None else found
        mismatches.append(
            Mismatch(
                str(entry["path"]),
                use.artifact["sha256"],
                use.artifact["size"],
                entry["sha256"],
                entry["size"],
                use.describe(),
            )
        )
    return mismatches


def verify_consumed(path: Path | str, root: Path | str | None = None) -> Producer | None:
    """Raise :class:`TamperedInputError` if ``path`` differs from what its producer recorded.

    ``root`` defaults to ``$SPECTRAMIND_RUNS_ROOT`` or ``artifacts/runs`` (relative paths are
    taken from the current folder, the workflow root). Returns the producer, or None when no
    recorded job produced the file or manifests are off (``SPECTRAMIND_MANIFEST=0``).
    """
    from spectramind.repro.runid import DEFAULT_RUNS_ROOT, ENV_RUNS_ROOT

    if not manifest_enabled():
        return None
    root = Path(root or os.environ.get(ENV_RUNS_ROOT) or DEFAULT_RUNS_ROOT)
    if producer(root, path) is None:
        return None
    entries = [entry.to_dict() for entry in file_entries([str(path)])]
    mismatches = check_inputs(root, entries)
    if mismatches:
        raise TamperedInputError(mismatches)
    return producer(root, path)
