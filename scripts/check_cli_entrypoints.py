#!/usr/bin/env python3
"""Pre-commit hook: forbid non-CLI entry points (logic in spectramind.hooks, tested there)."""

import sys

from spectramind.hooks import main

if __name__ == "__main__":
    sys.exit(main())
