"""What a reader of an HTML email sees, in order: text, link targets, image sources and
alt texts (whitespace normalised); the markup around them is not compared."""

from html.parser import HTMLParser

_SKIPPED = {"style", "script", "head"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.skipping: list[str] = []
        self.in_title = False

    def flush(self) -> None:
        words = " ".join("".join(self.text).split())
        if words:
            self.items.append(("text", words))
        self.text = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in ("style", "script"):
            self.skipping.append(tag)
            return
        values = dict(attrs)
        if tag == "title":
            self.in_title = True
        if tag == "a" and values.get("href"):
            self.flush()
            self.items.append(("href", values["href"].strip()))
        if tag == "img":
            self.flush()
            self.items.append(("src", (values.get("src") or "").strip()))
            if values.get("alt"):
                self.items.append(("alt", " ".join(values["alt"].split())))
        if tag in ("br", "p", "div", "td", "tr", "li", "h1", "h2", "h3", "table"):
            self.text.append(" ")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if self.skipping and tag == self.skipping[-1]:
            self.skipping.pop()
            return
        if tag == "title":
            self.flush()
            self.in_title = False
        if tag in ("p", "div", "td", "li", "h1", "h2", "h3", "a", "table"):
            self.text.append(" ")

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self.skipping:
            self.text.append(data)


def visible(html: str) -> list[tuple[str, str]]:
    """The visible items of ``html``: ("text"|"href"|"src"|"alt", value), in order."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    parser.flush()
    return parser.items
