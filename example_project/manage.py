#!/usr/bin/env python
"""Command-line entry point of the txmail example project."""

import os
import sys
from pathlib import Path


def main():
    # The example runs from a checkout: make the repo's txmail importable
    # without installing it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
