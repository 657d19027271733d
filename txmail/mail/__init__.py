"""Mail: from a rendered ``Draft`` to a Django email, and its frozen bytes.

``build`` validates every field and builds the email; ``mime`` its MIME tree;
``headers`` writes address headers safely; ``validation`` checks addresses and
header values; ``frozen`` stores a built email as bytes for the queue; ``esp``
carries anymail's per-message options.
"""
