"""System checks: configuration mistakes reported by ``manage.py check``.

One module per theme; importing this package registers them all:
``settings`` (TXMAIL, E003 E004 E007 E050 W070), ``mailers`` (MAILERS, E001 E020-E029),
``message_templates`` (E002 E010 E011 W001), ``production`` (DEBUG off, W010 E051
E052), ``variables`` (undefined template variables in DEBUG, W060), ``setup``
(migrations, E006; what stands aside during ``migrate``), ``retention``
(TXMAIL['RETENTION']'s names, E090 W090), ``rate_limits`` (RATE_LIMITS
aliases, E070), ``bounces`` (TXMAIL['BOUNCES'] and TXMAIL['DKIM'], E120-E123
W121), ``quality`` (TXMAIL['CLIENTS'], W080). txmail.E005 (txmail not
in INSTALLED_APPS) is ``txmail.installed``'s; inbound mail's (E110-E113, W113) are
``txmail.inbound.checks``'.
"""

from .bounces import check_bounces, check_dkim
from .mailers import check_mailer_aliases, check_mailers
from .message_templates import check_message_templates, check_precompiled_templates
from .production import check_placeholder_secrets, check_preview_access
from .quality import check_clients
from .rate_limits import check_rate_limits
from .retention import check_retention
from .settings import (
    check_base_url_for_bulk,
    check_settings,
    check_task_backends,
    check_topics,
)
from .setup import check_migrations
from .variables import check_template_variables

__all__ = [
    "check_base_url_for_bulk", "check_bounces", "check_clients", "check_dkim",
    "check_mailer_aliases", "check_mailers",
    "check_message_templates", "check_migrations", "check_placeholder_secrets",
    "check_precompiled_templates",
    "check_preview_access", "check_rate_limits", "check_retention",
    "check_settings", "check_task_backends", "check_template_variables", "check_topics",
]
