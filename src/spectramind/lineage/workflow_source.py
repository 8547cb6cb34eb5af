"""What the compiled Snakemake source says about each rule: config keys, imports, schemas.

Snakemake compiles every included Snakefile into Python (``snakemake.parser``); a rule becomes
a function whose decorators hold its directives (``@workflow.input(...)``,
``@workflow.params(...)``, ``@workflow.threads(...)`` ...). All included files share one global
namespace, so their module-level functions and variables are indexed together.

Config keys (the DVC ``params`` of a rule's stage) are read off that source, not declared: a rule
reads ``a.b`` when one of its directives contains ``config["a"]["b"]`` (or ``config.get("a")``),
or names a module-level function or variable that does, transitively (``get_ld_range(key)``
reads ``config["fit"][key]``; ``get_dataset`` reads the global ``SIMULATED``, which is computed
from ``config["data_dir"]``). A key that is not a string literal ends the path
(``config["fit"][key]`` -> ``fit``); a bare ``config`` means the whole file (:data:`WHOLE`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

#: The key path that stands for the whole config file.
WHOLE: tuple[str, ...] = ()

KeyPath = tuple[str, ...]


def _is_rule(node: ast.AST) -> str | None:
    """The rule name when ``node`` is a compiled rule (``@workflow.rule(name=...)``)."""
    if not isinstance(node, ast.FunctionDef):
        return None
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "rule"
        ):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return None


def _string_args(call: ast.Call) -> list[str]:
    """String arguments of ``call``, also those of a call among its arguments: the path in
    ``configfile: beside_workdir(workflow.basedir, "config/config.yaml")`` (spectramind.assets)."""
    found = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.append(arg.value)
        elif isinstance(arg, ast.Call):
            found.extend(_string_args(arg))
    return found


def _call_name(node: ast.AST) -> str | None:
    """``f`` for ``f(...)`` and ``x.f(...)``."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


@dataclass
class WorkflowSource:
    """Index of the compiled sources: module-level definitions, rule directives, imports."""

    sources: dict[str, str]
    definitions: dict[str, list[ast.AST]] = field(default_factory=dict)
    rule_directives: dict[str, list[ast.expr]] = field(default_factory=dict)
    rule_files: dict[str, str] = field(default_factory=dict)
    trees: dict[str, ast.Module] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path, code in self.sources.items():
            tree = ast.parse(code, filename=path)
            self.trees[path] = tree
            for node in tree.body:
                rule = _is_rule(node)
                if rule is not None:
                    self.rule_directives[rule] = list(node.decorator_list)  # type: ignore[attr-defined]
                    self.rule_files[rule] = path
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    self.definitions.setdefault(node.name, []).append(node)
                elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        for name in ast.walk(target):
                            if isinstance(name, ast.Name) and node.value is not None:
                                self.definitions.setdefault(name.id, []).append(node.value)

    # -- config keys -----------------------------------------------------------------------

    def rule_config_keys(self, rule: str) -> set[KeyPath]:
        """Config key paths that ``rule``'s directives read (see module doc)."""
        keys: set[KeyPath] = set()
        seen: set[str] = set()
        for directive in self.rule_directives[rule]:
            self._collect_keys(directive, keys, seen)
        return keys

    def _collect_keys(self, node: ast.AST, keys: set[KeyPath], seen: set[str]) -> None:
        if isinstance(node, ast.Subscript):
            chain: list[ast.expr] = []
            base: ast.expr = node
            while isinstance(base, ast.Subscript):
                chain.append(base.slice)
                base = base.value
            if isinstance(base, ast.Name) and base.id == "config":
                path: list[str] = []
                for key in reversed(chain):
                    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                        break
                    path.append(key.value)
                keys.add(tuple(path))
                for key in chain:  # a computed key may itself read config
                    self._collect_keys(key, keys, seen)
                return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "config"
        ):
            literal = _string_args(node)
            keys.add((literal[0],) if node.func.attr == "get" and literal else WHOLE)
            for arg in node.args[1:]:
                self._collect_keys(arg, keys, seen)
            return
        if isinstance(node, ast.Name):
            if node.id == "config":
                keys.add(WHOLE)
            elif node.id in self.definitions and node.id not in seen:
                seen.add(node.id)
                for definition in self.definitions[node.id]:
                    self._collect_keys(definition, keys, seen)
            return
        for child in ast.iter_child_nodes(node):
            self._collect_keys(child, keys, seen)

    # -- what every stage shares -------------------------------------------------------------

    def imported_modules(self) -> set[str]:
        """Modules the workflow files import (any import statement in them)."""
        found: set[str] = set()
        for tree in self.trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
        return found

    def calls_with_string_args(self, names: Iterable[str]) -> dict[str, list[str]]:
        """File -> string arguments of module-level calls to any of ``names`` (e.g. validate)."""
        wanted = set(names)
        found: dict[str, list[str]] = {}
        for path, tree in self.trees.items():
            for statement in tree.body:
                if _is_rule(statement) is not None:
                    continue
                for node in ast.walk(statement):
                    if _call_name(node) in wanted:
                        found.setdefault(path, []).extend(_string_args(node))  # type: ignore[arg-type]
        return found

    def files_without_rules(self) -> list[str]:
        """Included files that define no rule (shared setup such as ``common.smk``)."""
        with_rules = set(self.rule_files.values())
        return [path for path in self.sources if path not in with_rules]
