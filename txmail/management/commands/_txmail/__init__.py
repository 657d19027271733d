"""The ``txmail`` command's subcommands, one module per subject.

The leading underscore keeps Django from taking this package for a command.
"""
