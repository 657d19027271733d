"""Sphinx configuration for txmail's documentation site (furo, MyST Markdown)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "_ext")]

# autodoc imports txmail, whose modules need Django's app registry.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django  # noqa: E402

django.setup()

project = "txmail"
author = "txmail maintainers"
copyright = "2026, txmail maintainers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "txmail_commands",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
# _incoming/ holds other engineers' notes until the lead folds them in.
exclude_patterns = ["_build", "_incoming"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
# Type hints name Django and stdlib classes Sphinx can't always resolve offline.
nitpicky = False
intersphinx_mapping: dict = {}

html_theme = "furo"
html_title = "txmail"
html_static_path: list[str] = []
