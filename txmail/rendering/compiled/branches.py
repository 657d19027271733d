"""An attribute's ``{% if %}`` inside a link: the text part shows the branch the HTML took.

``<a href="{% if custom %}{{ url }}{% else %}https://example.com/{% endif %}">``
puts the condition inside the text part's link too (``text (URL)``), and a link
of the one-pass template must be one piece (``{% txmail_link %}``). The text
part's copy therefore doesn't evaluate the condition again: the HTML's copy
records the branch it renders (``{% txmail_took G B %}``, ``B`` = -1 before the
``{% if %}``), and the text part's ``{% txmail_branch G %}{% txmail_case 0 %}…
{% txmail_case 1 %}…{% endtxmail_branch %}`` renders that case. The HTML renders
first, in the same loop iteration (see onepass), and the values inside are the
HTML's (``{% txmail_value %}``).
"""

from django.template import Node, NodeList
from django.template.base import Parser

from .protect import Group
from .runtime import register


def took(group: Group, index: int) -> str:
    """The HTML's tag recording that branch ``index`` (-1: none yet) renders."""
    return f"{{% txmail_took {group.id} {index} %}}"


def text_tag(group: Group, index: int) -> str:
    """The text part's tag in place of the group's ``index``-th block tag."""
    if index == 0:
        return f"{{% txmail_branch {group.id} %}}{{% txmail_case 0 %}}"
    if index < len(group.units) - 1:
        return f"{{% txmail_case {index} %}}"
    return "{% endtxmail_branch %}"


class TookNode(Node):
    def __init__(self, group: int, index: int) -> None:
        self.group, self.index = group, index

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        branches = getattr(context, "txmail_branches", None)
        if branches is None:
            branches = context.txmail_branches = {}
        branches[self.group] = self.index
        return ""


@register.tag("txmail_took")
def do_took(parser: Parser, token) -> TookNode:  # type: ignore[no-untyped-def]
    _, group, index = token.split_contents()
    return TookNode(int(group), int(index))


class BranchNode(Node):
    def __init__(self, group: int, cases: dict[int, NodeList]) -> None:
        self.group, self.cases = group, cases

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        index = getattr(context, "txmail_branches", {}).get(self.group, -1)
        case = self.cases.get(index)
        return case.render(context) if case is not None else ""


@register.tag("txmail_branch")
def do_branch(parser: Parser, token) -> BranchNode:  # type: ignore[no-untyped-def]
    group = int(token.split_contents()[1])
    parser.parse(("txmail_case",))  # nothing stands before the first case
    cases: dict[int, NodeList] = {}
    while True:
        index = int(parser.next_token().split_contents()[1])
        cases[index] = parser.parse(("txmail_case", "endtxmail_branch"))
        if parser.tokens[-1].contents == "endtxmail_branch":  # type: ignore[union-attr]
            parser.delete_first_token()
            return BranchNode(group, cases)
