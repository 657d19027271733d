"""``{txmail-command-help}``: the usage of ``manage.py txmail`` and its subcommands.

Generated from the command's own argparse parser, so the page can't drift from
the code.
"""

import argparse
import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


class CommandHelp(SphinxDirective):
    """Write each subcommand's ``--help`` under a rubric naming it."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from txmail.management.commands.txmail import Command

        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal's width
        parser = Command().create_parser("manage.py", "txmail")
        found: list[nodes.Node] = []
        for name, sub in self._walk(parser, "txmail"):
            text = sub.format_help().strip()
            found.append(nodes.rubric(text=f"manage.py {name}"))
            found.append(nodes.literal_block(text, text, language="text"))
        return found

    def _walk(self, parser: argparse.ArgumentParser, prefix: str) -> list[Any]:
        walked = []
        for name, sub in _subparsers(parser).items():
            walked.append((f"{prefix} {name}", sub))
            walked += self._walk(sub, f"{prefix} {name}")
        return walked


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("txmail-command-help", CommandHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
