"""Gate results shared by the supply-chain checks: one :class:`GateResult` per gate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from spectramind.errors import SpectraMindError


class SupplyChainError(SpectraMindError):
    """An SBOM could not be produced or read, or a supply-chain config file is invalid."""


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found by a gate, e.g. an undeclared package or a disallowed license.

    ``kind`` is a short machine-readable tag (``undeclared``, ``version-mismatch``,
    ``license-disallowed``, ``license-unknown``, ``vulnerability``...); ``message`` is the line
    shown to the user.
    """

    package: str
    kind: str
    message: str


@dataclass
class GateResult:
    """Outcome of one gate: ``status``, the findings behind a failure, and what was checked."""

    name: str
    status: GateStatus
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_findings(cls, name: str, findings: list[Finding], checked: int, **kw) -> GateResult:
        status = GateStatus.FAIL if findings else GateStatus.PASS
        return cls(name=name, status=status, findings=sorted(findings), checked=checked, **kw)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    def lines(self) -> list[str]:
        """Human-readable report lines for this gate (first line: name and status)."""
        head = f"gate {self.name}: {self.status.value.upper()} ({self.checked} checked"
        head += f", {len(self.findings)} finding(s))" if self.findings else ")"
        if self.status is GateStatus.SKIPPED:
            head = f"gate {self.name}: SKIPPED: {self.reason}"
        out = [head]
        out += [f"  - {f.package}: {f.message}" for f in self.findings]
        out += [f"  note: {n}" for n in self.notes]
        return out
