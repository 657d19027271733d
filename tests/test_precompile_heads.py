"""MRML's <head> CSS that follows a loop's or condition's outcome (precompile/heads.py)."""

import pytest

from tests.test_precompile import COLUMN, MJML, compiled_for, locmem, pipeline
from txmail import precompile

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

