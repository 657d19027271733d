"""The languages the preview's language switch offers for one message class.

Django's default ``LANGUAGES`` lists about a hundred languages, and Django
translates itself into all of them; a message is translated into far fewer.
The switch offers the site's default language, the languages the message's own
apps have a catalog for (``LOCALE_PATHS`` and the ``locale/`` of each app a
class of its MRO belongs to, Django's own apps left out), and the language the
page shows (a variant that pins one, or ``?lang=``).
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.utils.translation import get_supported_language_variant, to_locale

from ..message import Message

# Up to this many options are buttons; more are a drop-down.
MAX_BUTTONS = 5


def project_languages() -> list[tuple[str, str]]:
    """``settings.LANGUAGES`` as ``(code, name)``; empty without ``USE_I18N``."""
    if not settings.USE_I18N:
        return []
    return [(code, str(name)) for code, name in settings.LANGUAGES]


def _locale_dirs(cls: type[Message]) -> list[Path]:
    dirs = [Path(p) for p in settings.LOCALE_PATHS]
    for klass in cls.__mro__:
        config = apps.get_containing_app_config(klass.__module__)
        if config is not None and not config.name.startswith("django."):
            dirs.append(Path(config.path) / "locale")
    return list(dict.fromkeys(dirs))


def _has_catalog(directory: Path, code: str) -> bool:
    # Django falls back from "pt_BR" to "pt": either catalog translates pt-br.
    names = {to_locale(code), to_locale(code).split("_")[0]}
    return any(any((directory / name / "LC_MESSAGES").glob("*.mo")) for name in names)


def translated(cls: type[Message]) -> set[str]:
    """The codes of ``LANGUAGES`` the message's apps have a catalog for."""
    dirs = _locale_dirs(cls)
    return {code for code, _name in project_languages()
            if any(_has_catalog(d, code) for d in dirs)}


def offered(cls: type[Message], *shown: str | None) -> list[tuple[str, str]]:
    """``(code, name)`` of the languages to offer, in ``LANGUAGES`` order.

    ``shown`` are the languages on the page (requested, rendered): offered too.
    """
    languages = project_languages()
    if not languages:
        return []
    wanted = translated(cls)
    for code in (settings.LANGUAGE_CODE, *shown):
        if code:
            try:
                wanted.add(get_supported_language_variant(code))
            except LookupError:
                pass
    return [(code, name) for code, name in languages if code in wanted]
