"""Admin registrations, found by Django's admin autodiscovery."""

from .backends import admin as backends_admin  # noqa: F401
from .bulk import admin as bulk_admin  # noqa: F401
from .delivery import admin  # noqa: F401
from .erasure import admin as erasure_admin  # noqa: F401
from .inbound import admin as inbound_admin  # noqa: F401
from .suppression import admin as suppression_admin  # noqa: F401
from .webhooks import admin as webhooks_admin  # noqa: F401
