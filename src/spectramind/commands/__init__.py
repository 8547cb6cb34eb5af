"""CLI subcommands, one module per stage; see :mod:`spectramind.cli`."""
