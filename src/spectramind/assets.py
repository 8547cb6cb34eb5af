"""Files the package reads at run time, found through :mod:`importlib.resources`.

Everything a run reads besides its data ships inside the package, so a wheel install works in
any folder with no checkout: the JSON schemas, the default config, the workflow (``Snakefile``,
``workflow/rules``, ``envs/``, ``profiles/``), the advisory snapshot and the RO-Crate context.

The workflow files live at the top of the repository (the layout users and Snakemake expect);
``resources/project/`` holds symbolic links to them, which the wheel build turns into copies.
The folder therefore has the repository's top-level layout in both cases, and the relative
paths inside the workflow (``../../schemas/...`` from a rule file) hold in a checkout, an
editable install and a wheel install alike.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from spectramind.errors import SpectraMindError

#: The folder, inside the package, with the repository's top-level layout.
PROJECT_DIR = ("resources", "project")
SUBMISSION_SCHEMA = "submission.tableschema.sample_id.json"
CONFIG_SCHEMA = "config.schema.yaml"


def resource_path(*parts: str) -> Path:
    """A file or folder shipped under ``spectramind/resources``, as a real path.

    Raises :class:`SpectraMindError` naming the path when the install lacks it (a wheel built
    without its package data, or a checkout missing a link).
    """
    root = resources.files("spectramind")
    path = Path(str(root.joinpath("resources", *parts)))
    if not path.exists():
        raise SpectraMindError(
            f"{path}: expected a file shipped with the spectramind package, found none "
            "(reinstall the package; a wheel must be built with its package data)"
        )
    return path


def project_root() -> Path:
    """The folder holding ``Snakefile``, ``workflow/``, ``config/``, ``schemas/``, ``envs/``
    and ``profiles/`` as installed."""
    return resource_path(*PROJECT_DIR[1:])


def snakefile() -> Path:
    """The installed workflow's ``Snakefile``."""
    return project_root() / "Snakefile"


def schema_path(name: str) -> Path:
    """A schema of ``schemas/`` as installed, e.g. :data:`SUBMISSION_SCHEMA`."""
    return resource_path(*PROJECT_DIR[1:], "schemas", name)


def default_config() -> Path:
    """The default workflow config (``config/config.yaml``) as installed."""
    return resource_path(*PROJECT_DIR[1:], "config", "config.yaml")


def beside_workdir(basedir: str | os.PathLike[str], relative: str) -> str:
    """``basedir/relative`` as the workflow should name it: relative to the working folder
    when it lies inside it (a run from the checkout names ``config/config.yaml``, so records
    and the derived ``dvc.yaml`` stay machine-independent), else absolute (a wheel install run
    from any folder)."""
    path = Path(basedir, relative).absolute()
    cwd = Path.cwd().absolute()
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)
