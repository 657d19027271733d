"""``Mailbox``: a class that receives the mail sent to the addresses its ``route`` matches.

    class Comments(Mailbox):
        route = "reply+{token}@example.com"

        def process(self, inbound):
            Comment.objects.create(post=..., text=inbound.text, author=inbound.from_header)

A route is an address, or a pattern of one, as Django's ``ALLOWED_HOSTS`` spells
its patterns: ``"support@example.com"`` is that address; ``"{name}"`` in a route
captures part of the local part (``self.kwargs["name"]``, as a view's URL
arguments); ``"*@example.com"`` is any address at that domain and ``"*"`` any
address at all (a catch-all). An address goes to the most specific route that
matches it: an exact address, then a pattern, then a domain's ``*``, then ``"*"``.
Matching ignores case (mail systems don't keep it): captured parts are lower case.

Classes in an app's ``mailboxes.py`` are registered as ``app_label.ClassName``
(as message classes in ``emails.py`` are); ``abstract = True`` marks a base;
``register()`` adds any other.
"""

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.apps import apps

from ..addresses import canonical
from ..exceptions import MessageConfigurationError
from ..registry import discover

if TYPE_CHECKING:
    from .models import InboundMessage

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Mailbox:
    """Receive the messages sent to ``route``: ``process()`` runs in a task worker.

    ``process()`` returns normally: the message is processed. It raises
    ``txmail.Bounce("why")``: the message is refused (``bounced``), not retried.
    Any other error: it is tried again later, up to ``max_attempts`` times
    (``TXMAIL["INBOUND"]["MAX_ATTEMPTS"]`` when None), then ``failed``.
    """

    abstract: ClassVar[bool] = True
    #: The address or pattern this mailbox receives (see the module's docstring).
    route: ClassVar[str | None] = None
    #: Attempts before a message that keeps failing is ``failed``.
    max_attempts: ClassVar[int | None] = None

    def __init__(self, **kwargs: str) -> None:
        #: What the route's placeholders captured, e.g. ``{"token": "..."}``.
        self.kwargs = kwargs

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.abstract = bool(cls.__dict__.get("abstract", False))
        if not cls.abstract:
            if not isinstance(cls.route, str) or not cls.route.strip():
                raise MessageConfigurationError(
                    f"{cls.__qualname__} has no route. Set route = 'support@example.com' "
                    "(or a pattern such as 'reply+{token}@example.com', '*@example.com' "
                    "or '*'), or abstract = True for a base class.")
            Route(cls.route)  # a malformed route raises here, when the class is defined

    def process(self, inbound: "InboundMessage") -> Any:
        """Handle ``inbound`` (an ``InboundMessage``; ``inbound.delivery`` for a reply)."""
        raise NotImplementedError(
            f"{type(self).__qualname__} must implement process(self, inbound).")


@dataclass(frozen=True)
class Route:
    """A mailbox's route, parsed: ``match(address)`` gives the captured parts or None."""

    text: str

    def __post_init__(self) -> None:
        if self.text != "*":
            local, at, domain = self.text.rpartition("@")
            if not at or not local or not domain or "{" in domain or "*" in domain:
                raise MessageConfigurationError(
                    f"The route {self.text!r} is not an address or a pattern of one. Use "
                    "'support@example.com', 'reply+{token}@example.com', '*@example.com' "
                    "or '*'; placeholders and '*' go in the part before the '@'.")
            if "*" in local and local != "*":
                raise MessageConfigurationError(
                    f"The route {self.text!r} has '*' in a local part: '*' stands alone "
                    "('*@example.com'). Capture a part with a placeholder instead "
                    "('orders+{number}@example.com').")
        try:
            self._regex()
        except re.error as exc:  # a placeholder named twice
            raise MessageConfigurationError(
                f"The route {self.text!r} can't be matched ({exc}): give each placeholder "
                "a name of its own.") from None

    @property
    def domain(self) -> str | None:
        """The route's domain (IDNA, lower case); None for the catch-all ``"*"``."""
        return None if self.text == "*" else canonical(self.text.replace("{", "").replace(
            "}", "").replace("*", "x")).rpartition("@")[2]

    @property
    def rank(self) -> int:
        """0 an address, 1 a pattern, 2 a domain's ``*``, 3 ``"*"``: lower wins."""
        if self.text == "*":
            return 3
        if self.text.startswith("*@"):
            return 2
        return 1 if _PLACEHOLDER.search(self.text) else 0

    @property
    def key(self) -> str:
        """The route without case or placeholder names: two routes alike match alike."""
        return _PLACEHOLDER.sub("{}", self.text.lower())

    def regex(self) -> re.Pattern[str]:
        return _compiled(self)

    def _regex(self) -> re.Pattern[str]:
        if self.text == "*":
            return re.compile(r".*", re.S)
        local, _at, _domain = self.text.rpartition("@")
        if local == "*":
            pattern = r"[^@]+"
        else:
            pattern, end = "", 0
            for found in _PLACEHOLDER.finditer(local):
                pattern += re.escape(local[end:found.start()]) + f"(?P<{found[1]}>[^@]+?)"
                end = found.end()
            pattern += re.escape(local[end:])
        return re.compile(f"{pattern}@{re.escape(self.domain or '')}", re.I)

    def match(self, address: str) -> dict[str, str] | None:
        found = self.regex().fullmatch(canonical(address))
        return None if found is None else found.groupdict()


@functools.cache
def _compiled(route: Route) -> re.Pattern[str]:
    return route._regex()


_registry: dict[str, type[Mailbox]] = {}


def name_of(cls: type[Mailbox]) -> str:
    """``app_label.ClassName`` (the module's own name outside an app)."""
    config = apps.get_containing_app_config(cls.__module__)
    return f"{config.label if config else cls.__module__}.{cls.__name__}"


def register(cls: type[Mailbox]) -> type[Mailbox]:
    """Add ``cls`` to the mailboxes (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Mailbox)) or cls.abstract:
        raise TypeError(f"Only concrete Mailbox subclasses can be registered, not {cls!r}.")
    name = name_of(cls)
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise MessageConfigurationError(
            f"Two mailboxes are named {name!r}: {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}. Rename one of them.")
    _registry[name] = cls
    return cls


def unregister(cls: type[Mailbox]) -> None:
    """Remove ``cls`` from the mailboxes (tests)."""
    _registry.pop(name_of(cls), None)


def autodiscover() -> None:
    """Import every installed app's ``mailboxes`` module and register its classes."""
    for cls in discover("mailboxes", Mailbox):
        register(cls)


def mailboxes() -> dict[str, type[Mailbox]]:
    """Every registered mailbox by name, sorted by name."""
    return dict(sorted(_registry.items()))


def get_mailbox(name: str) -> type[Mailbox]:
    """The mailbox registered as ``name``, or LookupError naming them all."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise LookupError(f"No mailbox is registered as {name!r}; registered: {known}.") from None


def route_for(address: str) -> tuple[str, type[Mailbox], dict[str, str]] | None:
    """``(name, class, captured parts)`` of the mailbox ``address`` goes to, or None."""
    found = []
    for name, cls in _registry.items():
        route = Route(str(cls.route))
        captured = route.match(address)
        if captured is not None:
            # A longer pattern is the more specific one ("reply+{t}@" before "{x}@").
            found.append((route.rank, -len(route.text), name, cls, captured))
    if not found:
        return None
    _rank, _length, name, cls, captured = min(found, key=lambda f: (f[0], f[1], f[2]))
    return name, cls, captured
