"""Links: relative URLs, ``http://`` on an https site, a visible unsubscribe link in
bulk mail, malformed ``mailto:`` links, and hosts outside ``TXMAIL["LINK_HOSTS"]``.
"""

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ..conf import txmail_settings
from . import document
from .accessibility import accessible_name, text_contrast
from .document import Document, Element
from .findings import Finding, Severity

# Links and images that a mail client can open without a base URL (a template
# placeholder such as "{{ url }}" left by a preview is not a relative URL).
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|\{|$)", re.IGNORECASE)
_UNSUBSCRIBE = re.compile(
    r"unsubscribe|opt[\s-]?out|preferences|email[\s-]?settings|abbestellen|"
    r"d[ée]sinscri|d[ée]sabonn|darse de baja|cancelar suscri|afmeld|uitschrijven",
    re.IGNORECASE)
MAILTO_FIELDS = {"subject", "body", "cc", "bcc", "to", "in-reply-to"}
# Under this contrast with its background an unsubscribe link counts as hidden:
# WCAG's floor for any text, large text included (white on white is 1:1).
VISIBLE_RATIO = 3.0


def check(variant: Any) -> Iterable[Finding]:
    """Check a rendered variant's links (``variant.html``, ``variant.kind``).

    ``SITE_URL`` and ``LINK_HOSTS`` in ``variant.settings`` (a mapping or an
    object) win over the project's settings.
    """
    html = getattr(variant, "html", None)
    if not html:
        return []
    # A Variant carries the site's URL (variant_of reads it); a settings override wins.
    site_url = variant_setting(variant, "SITE_URL") or getattr(variant, "site_url", None) or None
    hosts = variant_setting(variant, "LINK_HOSTS")
    return check_html(html, bulk=getattr(variant, "kind", "transactional") == "bulk",
                      site_url=site_url, hosts=hosts)


def variant_setting(variant: Any, name: str) -> Any:
    """``variant.settings[name]`` (or its attribute), None when it doesn't say."""
    given = getattr(variant, "settings", None)
    if isinstance(given, Mapping):
        return given.get(name)
    return getattr(given, name, None) if given is not None else None


def check_html(html: str, *, bulk: bool = False, site_url: str | None = None,
               hosts: Sequence[str] | None = None) -> list[Finding]:
    """Every link finding for ``html``.

    ``site_url`` and ``hosts`` default to the settings (``TXMAIL["SITE_URL"]``,
    ``TXMAIL["LINK_HOSTS"]``); ``bulk`` asks for a visible unsubscribe link.
    """
    site_url = str(site_url) if site_url is not None else configured_site_url()
    hosts = list(hosts) if hosts is not None else allowed_hosts(site_url)
    doc = document.parse(html)
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for node, attr, url in urls(doc):
        for finding in url_findings(node, attr, url, site_url=site_url, hosts=hosts):
            # A URL repeated (an image, a title and a button linking one article) is one finding.
            if (finding.code, url) not in seen:
                seen.add((finding.code, url))
                found.append(finding)
    if bulk:
        found += unsubscribe_findings(doc)
    return found


def configured_site_url() -> str:
    """``TXMAIL["SITE_URL"]``, else the current Site's URL, else "" (checks that need it skip)."""
    if txmail_settings.SITE_URL:
        return str(txmail_settings.SITE_URL)
    from django.apps import apps

    if apps.is_installed("django.contrib.sites"):
        from ..sites import get_site_url

        try:
            return get_site_url()
        except Exception:  # a bad Site is reported by txmail's own checks
            return ""
    return ""


def allowed_hosts(site_url: str) -> list[str]:
    """``TXMAIL["LINK_HOSTS"]``, else the site's host; [] means any host."""
    configured = txmail_settings.LINK_HOSTS
    if configured is not None:
        return list(configured)
    host = urlsplit(site_url).hostname if site_url else None
    return [host] if host else []


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Whether ``host`` matches one of ``patterns`` ("example.com", "*.example.com")."""
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, pattern.lower().rstrip(".")) for pattern in patterns)


def urls(doc: Document) -> Iterable[tuple[Element, str, str]]:
    """Every URL a reader's client loads or opens: links, images, backgrounds."""
    for node in doc.elements():
        for attr in ("href", "src", "background"):
            if attr in node.attrs and (node.tag != "link" or attr != "href"):
                yield node, attr, node.attrs[attr].strip()


def url_findings(node: Element, attr: str, url: str, *, site_url: str,
                 hosts: Sequence[str]) -> list[Finding]:
    where = node.describe()
    if not _ABSOLUTE.match(url):
        return [Finding(
            "relative-url", f"Relative URL {url[:80]} in <{node.tag} {attr}>.",
            "Mail clients have no base URL: {% load txmail %} and write "
            "{% absurl 'name' %}, {% absstatic 'file' %} or {{ path|absolute }} "
            "(the base is TXMAIL['SITE_URL']).", Severity.ERROR, where)]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return mailto_findings(url, where)
    if scheme not in ("http", "https"):
        return []
    found = []
    if scheme == "http" and site_url.startswith("https://"):
        found.append(Finding(
            "http-url", f"Insecure link {url!r} on an https site.",
            "Use https://: clients warn about, and some block, plain http links and images.",
            Severity.WARNING, where))
    host = parts.hostname or ""
    if hosts and host and not host_allowed(host, hosts):
        found.append(Finding(
            "link-host", f"{url!r} points to {host!r}, outside TXMAIL['LINK_HOSTS'] "
            f"({', '.join(hosts)}).",
            "A staging or local host in production mail? Build links with {% absurl %} "
            "(TXMAIL['SITE_URL']), or add the host to TXMAIL['LINK_HOSTS'].",
            Severity.ERROR, where))
    return found


def mailto_findings(url: str, where: str) -> list[Finding]:
    """A ``mailto:`` URL (RFC 6068) with bad addresses or query fields."""
    target, _, query = url[len("mailto:"):].partition("?")
    problems = []
    addresses = [unquote(a).strip() for a in target.split(",") if a.strip()]
    fields = parse_qsl(query, keep_blank_values=True) if query else []
    if query and not fields:
        problems.append(f"its query {query!r} isn't name=value pairs")
    for name, value in fields:
        if name.lower() not in MAILTO_FIELDS:
            problems.append(f"{name!r} isn't a mailto field (subject, body, cc, bcc)")
        elif name.lower() in ("to", "cc", "bcc"):
            addresses += [a.strip() for a in value.split(",") if a.strip()]
    if not addresses:
        problems.append("it has no address")
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address!r} isn't an email address")
    if not problems:
        return []
    return [Finding(
        "mailto", f"Malformed mailto: link {url!r}: {'; '.join(problems)}.",
        "Write mailto:name@example.com?subject=…&body=… with the values URL-encoded "
        "(urlencode in the template).", Severity.WARNING, where)]


def is_unsubscribe(link: Element) -> bool:
    return bool(_UNSUBSCRIBE.search(accessible_name(link))
                or _UNSUBSCRIBE.search(link.attrs.get("href", "")))


def is_visible(link: Element) -> bool:
    """Whether ``link`` shows: not hidden, and its text (if any) stands out."""
    if document.is_hidden(link):
        return False
    texts = [node for node in link.iter() if node.own_text() and not document.is_hidden(node)]
    if not texts:
        return any(node.tag == "img" for node in link.iter())
    return any((ratio := text_contrast(node)) is None or ratio >= VISIBLE_RATIO
               for node in texts)


def unsubscribe_findings(doc: Document) -> list[Finding]:
    """Bulk mail must show an unsubscribe link (CAN-SPAM, Gmail's and Yahoo's rules)."""
    links = [a for a in doc.elements("a") if a.attrs.get("href") and is_unsubscribe(a)]
    if any(is_visible(a) for a in links):
        return []
    if links:
        return [Finding(
            "unsubscribe-hidden", "The unsubscribe link is hidden (or its text all but "
            f"invisible on its background: contrast under {VISIBLE_RATIO:g}:1).",
            "Show it where readers look for it, in the footer, in a colour that stands "
            "out from its background; a hidden link counts as none.", Severity.ERROR,
            links[0].describe())]
    return [Finding(
        "unsubscribe-link", "This bulk message has no visible unsubscribe link.",
        "Add one in the footer: <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> "
        "(BulkMessage puts unsubscribe_url and preferences_url in the context); the "
        "List-Unsubscribe header alone isn't shown by every client.", Severity.ERROR, "html")]
