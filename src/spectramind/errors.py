"""Exceptions that the CLI turns into a one-line message and a non-zero exit."""


class SpectraMindError(Exception):
    """Base class: an error the user can act on. ``str(err)`` is the one-line message."""

    exit_code = 2


class DataFormatError(SpectraMindError):
    """Input data does not follow the ADC 2025 layout (FORMAT.md).

    The message names the path, what was expected and what was found.
    """


class ConfigError(SpectraMindError):
    """A configuration value is missing, unknown or of the wrong type."""


class SubmissionFormatError(DataFormatError):
    """A submission, predictions file or truth table breaks the metric's rules.

    The message names the file or table, the planet and/or column, what was expected and what
    was found.
    """
