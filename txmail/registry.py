"""The registry of message classes, filled from every installed app's ``emails``.

Names are ``"<app_label>.<ClassName>"`` (``"shop.PasswordReset"``): stable
across releases and readable in URLs. The preview lists classes from here.
"""

import logging

from django.apps import apps
from django.utils.module_loading import autodiscover_modules

from .declared import missing_template_name
from .exceptions import MessageConfigurationError, TemplateNotFound
from .message import Message, name_of
from .rendering import find as tpl
from .rendering.compiled import get_compiled

logger = logging.getLogger("txmail.rendering.compiled")

_registry: dict[str, type[Message]] = {}


def _check_declared(cls: type[Message]) -> None:
    if cls.template_name is None and cls.get_template_names is Message.get_template_names:
        raise missing_template_name(f"{cls.__module__}.{cls.__qualname__}")


def register(cls: type[Message]) -> type[Message]:
    """Add ``cls`` to the registry (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Message)):
        raise TypeError(f"Only Message subclasses can be registered, not {cls!r}.")
    if cls.abstract:
        raise MessageConfigurationError(
            f"{cls.__qualname__} is abstract (abstract = True) and can't be "
            "registered. Register a concrete subclass instead."
        )
    _check_declared(cls)
    name = name_of(cls)
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise MessageConfigurationError(
            f"Two message classes are named {name!r}: "
            f"{existing.__module__}.{existing.__qualname__} and "
            f"{cls.__module__}.{cls.__qualname__}. Rename one of them; the "
            "registry and preview URLs need unique names."
        )
    _registry[name] = cls
    return cls


def unregister(cls: type[Message]) -> None:
    """Remove ``cls`` from the registry (tests, or to hide a third-party class)."""
    _registry.pop(name_of(cls), None)


def _subclasses[C](cls: type[C]) -> list[type[C]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def discover[C](module: str, base: type[C]) -> list[type[C]]:
    """Import every installed app's ``module``; return the concrete ``base`` subclasses in it.

    A class counts when it is defined in ``<app>.<module>`` or a submodule of it, and
    isn't ``abstract``: message classes in ``emails.py``, mailboxes in ``mailboxes.py``.
    """
    autodiscover_modules(module)
    found = []
    for config in apps.get_app_configs():
        name = f"{config.name}.{module}"
        for cls in _subclasses(base):
            inside = cls.__module__ == name or cls.__module__.startswith(name + ".")
            if inside and not getattr(cls, "abstract", False):
                found.append(cls)
    return found


def autodiscover() -> None:
    """Import every installed app's ``emails`` module and register its classes."""
    for cls in discover("emails", Message):
        register(cls)


def message_classes() -> dict[str, type[Message]]:
    """Return every registered class by name, sorted by name."""
    return dict(sorted(_registry.items()))


def get_message_class(name: str) -> type[Message]:
    """Return the class registered as ``name`` or raise LookupError naming them all."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise LookupError(
            f"No message class is registered as {name!r}; registered: {known}."
        ) from None


def warm_up() -> dict[str, str | None]:
    """Compile the templates of every registered message class now.

    For a deploy step or a worker's startup: compile time and fallback warnings
    then happen before the first message. Returns registry name → fallback
    reason (None: compiled). Classes without a ``template_name`` attribute
    (names from ``get_template_names()``) compile on first use.
    """
    results: dict[str, str | None] = {}
    for name, cls in message_classes().items():
        if not cls.template_name:
            continue
        try:
            templates = tpl.find_templates(cls.__name__, [cls.template_name])
        except TemplateNotFound as exc:
            results[name] = str(exc)
            continue
        except Exception as exc:  # a broken template must not stop a worker's start
            logger.error("txmail: %s cannot be compiled: %s", name, exc)
            results[name] = f"{type(exc).__name__}: {exc}"
            continue
        results[name] = get_compiled(cls.__name__, templates)[0].fallback_reason
    return results
