"""Outcomes the one-pass template reads back: MRML's <head> CSS per outcome
(precompile/heads.py) and an attribute's {% if %} in a link (precompile/branches.py)."""

import pytest

from tests.test_precompile import COLUMN, MJML, compiled_for, locmem, pipeline
from txmail.rendering import compiled as precompile

WIDTH_35 = MJML.format(
    COLUMN.format("<mj-text>Hi</mj-text>") + "{% for i in items %}<mj-section>"
    '<mj-column width="35%"><mj-text>{{ i }}</mj-text></mj-column>'
    '<mj-column width="65%"><mj-text>b</mj-text></mj-column></mj-section>{% endfor %}'
    "{% if x %}" + COLUMN.format('<mj-image src="https://e.com/a.png" />') + "{% endif %}"
)


def both(files, context):
    compiled = compiled_for(files)
    assert compiled.fallback_reason is None, compiled.fallback_reason
    with locmem(files):
        got = compiled.render(context)
    return got, pipeline(files, context)


@pytest.mark.parametrize("items", [[], ["a"], ["a", "b", "c"]])
@pytest.mark.parametrize("x", [True, False])
def test_the_head_is_the_pipelines_for_each_outcome(items, x):
    (html, text), (expected_html, expected_text) = both({"t.mjml": WIDTH_35},
                                                        {"items": items, "x": x})
    assert precompile.normalize(html) == precompile.normalize(expected_html)
    assert text == expected_text
    head = html[:html.index("</head>")]
    assert (".mj-column-per-35 {" in head) == bool(items)
    assert ("mj-full-width-mobile" in head) == x


def test_a_value_holding_the_head_marker_renders_in_full():
    compiled = compiled_for({"t.mjml": WIDTH_35})
    marker = compiled.heads.marker
    with locmem({"t.mjml": WIDTH_35}), pytest.raises(precompile.NeedsFallback) as info:
        compiled.render({"items": [marker], "x": True})
    assert str(info.value) == "a value contains txmail's head marker; rendered in full."



class Counted:
    """A condition that counts how often a template evaluates it."""

    def __init__(self, value: bool) -> None:
        self.value, self.evaluated = value, 0

    def __bool__(self) -> bool:
        self.evaluated += 1
        return self.value


LINK_IN_LOOP = MJML.format(COLUMN.format(
    '<mj-text>{% for i in items %}<a href="{% if i.on %}https://e.com/{{ i.id }}'
    '{% else %}https://e.com/off{% endif %}">item {{ i.id }}</a>{% endfor %}</mj-text>'
))


def test_a_condition_in_a_link_url_is_evaluated_once_per_message():
    items = [{"id": 1, "on": Counted(True)}, {"id": 2, "on": Counted(False)}]
    compiled = compiled_for({"t.mjml": LINK_IN_LOOP})
    assert compiled.fallback_reason is None, compiled.fallback_reason
    with locmem({"t.mjml": LINK_IN_LOOP}):
        html, text = compiled.render({"items": items})
    assert [i["on"].evaluated for i in items] == [1, 1]
    expected_html, expected_text = pipeline({"t.mjml": LINK_IN_LOOP}, {"items": items})
    assert precompile.normalize(html) == precompile.normalize(expected_html)
    assert text == expected_text
    assert "item 1 (https://e.com/1)" in text and "item 2 (https://e.com/off)" in text
