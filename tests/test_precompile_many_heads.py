"""A template whose <head> CSS depends on many {% if %}/{% for %} tags compiles
(precompile/heads.py proves each region's effect alone, not every combination),
renders exactly as the full pipeline for any context, and still falls back when
its tags change the head together."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_precompile import COLUMN, MJML, compiled_for, locmem, pipeline
from txmail.rendering import compiled as precompile

ORDER = {"t.mjml": (Path(__file__).parent / "fixtures" / "heads" / "order.mjml").read_text()}

words = st.text(alphabet="abcXYZ &<>'\"é€", min_size=1, max_size=12)
urls = st.sampled_from(["https://shop.example/a", "https://shop.example/b?x=1&y=2"])
items = st.lists(st.fixed_dictionaries({
    "name": words, "quantity": st.integers(1, 5), "price": words,
    "image": st.sampled_from(["https://shop.example/1.png", "https://shop.example/2.png"]),
}), max_size=3)
recommendations = st.lists(st.fixed_dictionaries({
    "name": words, "url": urls, "image": st.just("https://shop.example/r.png"),
}), max_size=2)
contexts = st.fixed_dictionaries({
    "order": st.fixed_dictionaries({"number": st.integers(1000, 9999)}),
    "customer": st.fixed_dictionaries({"first_name": words, "is_new": st.booleans()}),
    "items": items,
    "discount": st.one_of(st.just(""), words),
    "gift_message": st.one_of(st.just(""), words),
    "tracking_url": st.one_of(st.just(""), urls),
    "address": st.one_of(st.just(""), st.just("1 Main St\nSpringfield"), words),
    "recommendations": recommendations,
    "loyalty_points": st.integers(0, 3),
    "survey_url": st.one_of(st.just(""), urls),
})


@pytest.fixture(scope="module")
def order():
    compiled = compiled_for(ORDER)
    assert compiled.fallback_reason is None, compiled.fallback_reason
    return compiled


def test_the_nine_condition_template_compiles_with_a_head_per_effect(order):
    # Nine top-level tags; six change the head (two of them the same way: a
    # 40%/60% section with an image), three don't (text and a 100% column).
    assert len(order.heads.groups) == 6
    assert len(order.heads.table) == 16


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(context=contexts)
def test_compiled_equals_the_full_pipeline_for_any_context(order, context):
    with locmem(ORDER):
        try:
            html, text = order.render(context)
        except precompile.NeedsFallback:  # a value the runtime sends to the pipeline
            return
    expected_html, expected_text = pipeline(ORDER, context)
    assert precompile.normalize(html) == precompile.normalize(expected_html)
    assert text == expected_text


def _section(width: int, body: str) -> str:
    return (f'<mj-section><mj-column width="{width}%"><mj-text>{body}</mj-text></mj-column>'
            f'<mj-column width="{100 - width}%"><mj-text>b</mj-text></mj-column></mj-section>')


def test_tags_whose_effects_combine_in_too_many_ways_fall_back():
    # Eight sections of eight widths found nowhere else: 256 different heads.
    source = MJML.format(COLUMN.format("<mj-text>Hi</mj-text>") + "".join(
        f"{{% if c{i} %}}{_section(10 + 5 * i, f'{{{{ v{i} }}}}')}{{% endif %}}"
        for i in range(8)
    ))
    reason = compiled_for({"t.mjml": source}).fallback_reason
    assert reason is not None and "8 {% if %}/{% for %} tags whose effects combine in " \
        "too many ways to prove" in reason


def test_a_tag_that_changes_the_head_from_inside_another_falls_back():
    # The image CSS depends on {% if i %} inside the loop: once per item, not
    # once per message, so no mark can say which head it needs.
    source = MJML.format(
        COLUMN.format("<mj-text>Hi</mj-text>")
        + "{% if a %}" + COLUMN.format("<mj-text>{{ a }}</mj-text>") + "{% endif %}"
        + "{% for i in items %}" + COLUMN.format(
            '{% if i %}<mj-image src="https://e.com/a.png" />{% endif %}<mj-text>x</mj-text>')
        + "{% endfor %}"
    )
    reason = compiled_for({"t.mjml": source}).fallback_reason
    assert reason is not None and "{% if i %} changes the <head> CSS" in reason


def test_regions_sharing_an_effect_share_a_head():
    # Eight conditional images, and no other: the image CSS is in the head when
    # any renders. Two heads, not 256.
    source = MJML.format(COLUMN.format("".join(
        f'{{% if c{i} %}}<mj-image src="https://e.com/{i}.png" />{{% endif %}}'
        for i in range(8)) + "<mj-text>Hi</mj-text>"))
    compiled = compiled_for({"t.mjml": source})
    assert compiled.fallback_reason is None, compiled.fallback_reason
    assert len(compiled.heads.table) == 2
    for on in ([], [3], [0, 7], list(range(8))):
        context = {f"c{i}": i in on for i in range(8)}
        with locmem({"t.mjml": source}):
            html, _ = compiled.render(context)
        expected_html, _ = pipeline({"t.mjml": source}, context)
        assert precompile.normalize(html) == precompile.normalize(expected_html)
        assert ("mj-full-width-mobile" in html[:html.index("</head>")]) == bool(on)


def test_few_tags_are_proven_combination_by_combination():
    # Two tags: all four combinations compiled, a head for each outcome.
    source = MJML.format(COLUMN.format(
        '{% if a %}<mj-image src="https://e.com/a.png" />{% endif %}'
        '{% if b %}<mj-image src="https://e.com/b.png" />{% endif %}<mj-text>Hi</mj-text>'))
    compiled = compiled_for({"t.mjml": source})
    assert compiled.fallback_reason is None, compiled.fallback_reason
    assert len(compiled.heads.table) == 4


def test_a_head_that_is_not_the_union_of_the_regions_effects_falls_back():
    # MRML writes each head rule once, whatever renders it twice; a compiler that
    # wrote a rule once per element (as MRML does for carousels, whose bodies differ
    # too, so they fall back earlier) breaks the composition, which step 3 catches.
    from txmail.rendering.compiled import heads
    from txmail.rendering.compiled.flatten import Unprecompilable
    from txmail.rendering.compiled.protect import Protector

    def once_per_element(sources):
        body = sources[""]
        return f"<html><head>{'x' * body.count('<y/>')}</head><body>{body}</body></html>", None

    prot = Protector()
    source = prot.protect("".join(f"{{% if c{i} %}}{'<y/>' if i < 2 else i}{{% endif %}}"
                                  for i in range(8)), "t", top=True)
    html, _ = once_per_element({"": source})
    with pytest.raises(Unprecompilable) as caught:
        heads.build(prot, {"": source}, html, None, once_per_element, "Head.", lambda t: t)
    assert str(caught.value) == ("Head; its <head> CSS depends on 2 {% if %}/{% for %} tags "
                                 "together, not on each alone (they interact).")
