"""Static import closure of a package's modules: what a stage's code can execute.

Every ``import`` statement counts, also those inside functions (the commands import their heavy
modules inside ``run``) and under ``if TYPE_CHECKING``; importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``. Dynamic imports (``importlib.import_module``) are not seen:
the CLI's subcommand discovery is one, and the subcommand a rule runs is resolved from its
``add_parser`` name instead (:func:`subcommand_modules`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def module_file(src_root: Path, module: str) -> Path | None:
    """The file of ``module`` under ``src_root`` (package ``__init__.py`` or ``.py``), if any."""
    base = src_root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def module_name(src_root: Path, path: Path) -> str:
    """The dotted name of the module in ``path`` (a file under ``src_root``)."""
    parts = list(path.relative_to(src_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _from_base(package: str, module: str | None, level: int) -> str:
    """The absolute module named by ``from <level dots><module> import ...`` in ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, module] if module else parts)


def imported_modules(src_root: Path, module: str) -> set[str]:
    """Modules under ``src_root`` that ``module``'s import statements name (anywhere in it)."""
    path = module_file(src_root, module)
    if path is None:
        raise FileNotFoundError(f"no module {module} under {src_root}")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(package, node.module, node.level)
            named.add(base)
            # `from pkg import mod` imports the submodule pkg.mod when there is one.
            named.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {name for name in named if name and module_file(src_root, name) is not None}


def _with_parents(module: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages' __init__."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(src_root: Path, entry_modules: Iterable[str]) -> set[str]:
    """Every module under ``src_root`` that importing ``entry_modules`` can execute."""
    seen: set[str] = set()
    todo = [parent for module in entry_modules for parent in _with_parents(module)]
    while todo:
        module = todo.pop()
        if module in seen or module_file(src_root, module) is None:
            continue
        seen.add(module)
        for name in imported_modules(src_root, module):
            todo.extend(_with_parents(name))
    return seen


def subcommand_modules(src_root: Path, package: str) -> dict[str, str]:
    """Subcommand name -> the module under ``package`` whose ``add_parser("name", ...)`` adds it."""
    found: dict[str, str] = {}
    package_dir = src_root.joinpath(*package.split("."))
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_parser"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                name = node.args[0].value
                module = module_name(src_root, path)
                if found.setdefault(name, module) != module:
                    raise ValueError(f"subcommand {name!r} added by {found[name]} and {module}")
    return found
