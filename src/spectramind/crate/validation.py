"""Validate an RO-Crate with ``roc-validator`` (package ``rocrate_validator``), offline.

The validator parses ``ro-crate-metadata.json`` as JSON-LD and so must resolve its remote
``@context`` (``https://w3id.org/ro/crate/1.1/context``). SpectraMind runs where there is no
network (CI, Kaggle), so :func:`validate_crate` runs the validator in its offline mode with an
HTTP cache that holds that one document, served from the copy shipped in
``spectramind/resources/ro-crate-1.1-context.jsonld`` (RO-Crate 1.1 context, version 1.1.0,
CC0-1.0; see ``resources/README.md``). Nothing else is fetched: a crate that needs another
remote document fails validation instead of going to the network.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectramind.errors import SpectraMindError

log = logging.getLogger(__name__)

#: The deepest run-crate profile the export implements (roc-validator identifier).
DEFAULT_PROFILE = "provenance-run-crate-0.5"
SEVERITIES = ("required", "recommended", "optional")
CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"
CONTEXT_FILE = Path(__file__).resolve().parents[1] / "resources" / "ro-crate-1.1-context.jsonld"


class CrateValidationError(SpectraMindError):
    """The validator cannot run (not installed, crate not found)."""


@dataclass
class Issue:
    severity: str
    check: str
    message: str
    entity: str | None

    def __str__(self) -> str:
        where = f" [{self.entity}]" if self.entity else ""
        return f"{self.severity} {self.check}: {self.message}{where}"


@dataclass
class CrateValidation:
    """The validator's verdict on one crate, for one profile and severity."""

    crate: Path
    profile: str
    severity: str
    validator_version: str
    passed: bool
    checks_executed: int
    checks_skipped: int
    seconds: float
    issues: list[Issue] = field(default_factory=list)

    def lines(self) -> list[str]:
        verdict = "PASS" if self.passed else f"FAIL ({len(self.issues)} issues)"
        out = [
            f"roc-validator {self.validator_version}: {self.crate} against {self.profile} at "
            f"severity {self.severity.upper()} (offline): {verdict}",
            f"  {self.checks_executed} checks executed, {self.checks_skipped} skipped, "
            f"{self.seconds:.1f} s",
        ]
        return out + [f"  - {issue}" for issue in self.issues]

    def to_dict(self) -> dict[str, Any]:
        return {
            "crate": str(self.crate),
            "profile": self.profile,
            "severity": self.severity,
            "validator": f"roc-validator {self.validator_version}",
            "passed": self.passed,
            "checks_executed": self.checks_executed,
            "checks_skipped": self.checks_skipped,
            "issues": [vars(i) for i in self.issues],
        }


def prime_context_cache(cache_path: Path) -> None:
    """Store the shipped RO-Crate 1.1 context in a ``requests_cache`` SQLite cache at
    ``cache_path`` (the validator's ``--cache-path``), as if fetched from :data:`CONTEXT_URL`."""
    import requests
    import urllib3
    from requests_cache import CachedSession

    body = CONTEXT_FILE.read_bytes()

    class ShippedContext(requests.adapters.BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> requests.Response:
            response = requests.Response()
            response.status_code, response.url, response.request = 200, request.url, request
            response.headers["Content-Type"] = "application/ld+json"
            response.raw = urllib3.HTTPResponse(
                body=io.BytesIO(body),
                headers={"Content-Type": "application/ld+json"},
                status=200,
                preload_content=False,
                request_url=request.url,
            )
            return response

        def close(self) -> None:
            pass

    session = CachedSession(
        cache_name=str(cache_path),
        backend="sqlite",
        expire_after=-1,
        allowable_methods=("GET",),
        allowable_codes=(200, 302, 404),
    )
    session.mount(CONTEXT_URL, ShippedContext())
    try:
        if session.get(CONTEXT_URL).status_code != 200:
            raise CrateValidationError(f"could not cache {CONTEXT_URL} from {CONTEXT_FILE}")
    finally:
        session.close()


def validate_crate(
    crate: Path | str,
    profile: str = DEFAULT_PROFILE,
    severity: str = "required",
    cache_dir: Path | str | None = None,
) -> CrateValidation:
    """Run roc-validator on ``crate`` (folder or zip) offline; see the module docstring.

    ``cache_dir`` keeps the primed HTTP cache (``<cache_dir>/http_cache.sqlite``) so that the
    validator's own CLI can be run on it: ``rocrate-validator validate --offline --cache-path``.
    """
    crate = Path(crate)
    if not (crate / "ro-crate-metadata.json").is_file() and not crate.is_file():
        raise CrateValidationError(f"{crate}: no ro-crate-metadata.json (not an RO-Crate)")
    if severity.lower() not in SEVERITIES:
        raise CrateValidationError(f"severity {severity!r} is not one of {SEVERITIES}")
    try:
        from rocrate_validator import services
        from rocrate_validator.models import Severity
    except ImportError as err:
        raise CrateValidationError(
            f"roc-validator is not installed ({err}); pip install -r requirements.lock"
        ) from err
    with tempfile.TemporaryDirectory(prefix="spectramind-rocv-") as tmp:
        cache = Path(cache_dir or tmp) / "http_cache"
        cache.parent.mkdir(parents=True, exist_ok=True)
        prime_context_cache(cache)
        # The validator turns the path into a base IRI without percent-encoding it, so a path
        # with a space (or another IRI-unsafe character) breaks its parsing: validate through a
        # link with a plain name instead.
        link = Path(tmp) / ("crate.zip" if crate.is_file() else "crate")
        link.symlink_to(crate.resolve())
        started = time.monotonic()
        settings = services.ValidationSettings(
            rocrate_uri=str(link),
            profile_identifier=profile,
            requirement_severity=Severity[severity.upper()],
            offline=True,
            cache_path=cache,
        )
        try:
            result = services.validate(settings)
        except Exception as err:  # the validator's own errors (bad profile id, unreadable zip)
            raise CrateValidationError(f"roc-validator could not validate {crate}: {err}") from err
        seconds = time.monotonic() - started
    issues = [
        Issue(
            severity=issue.severity.name,
            check=str(getattr(issue.check, "identifier", "?")),
            message=str(issue.message),
            entity=issue.violatingEntity,
        )
        for issue in result.get_issues(min_severity=Severity[severity.upper()])
    ]
    return CrateValidation(
        crate=crate,
        profile=profile,
        severity=severity.lower(),
        validator_version=importlib.metadata.version("roc-validator"),
        passed=result.passed(Severity[severity.upper()]) and not issues,
        checks_executed=len(result.executed_checks),
        checks_skipped=result.skipped_checks_count,
        seconds=seconds,
        issues=sorted(issues, key=lambda i: (i.check, i.entity or "")),
    )
