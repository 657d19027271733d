"""Ready-made messages for Django's own flows (``txmail.contrib.auth``)."""
