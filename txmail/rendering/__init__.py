"""Rendering: from a ``Draft`` to subject, HTML and text (``txmail.Rendered``).

``find`` looks templates up; ``pipeline`` runs the steps; ``markup`` compiles
MJML (through ``mjml_source``) and inlines CSS; ``text`` derives the text part;
``compiled`` is the compile-once accelerator behind ``pipeline``. Rendering
never touches the network and never imports the delivery layer.
"""
