"""The precompiler: what falls back and why, flattening, caching, isolation."""

import logging

import pytest
from django.conf import settings
from django.test import override_settings

from txmail import Message, warm_up
from txmail.rendering import compiled as precompile
from txmail.rendering.compiled import cache as precompile_cache
from txmail.rendering.find import find_templates

MJML = "<mjml><mj-body>{}</mj-body></mjml>"
COLUMN = "<mj-section><mj-column>{}</mj-column></mj-section>"
HTML = "<!doctype html><html><head><style>.a {{ color: red; }}</style></head><body>{}</body></html>"


def locmem(templates):
    base = settings.TEMPLATES[0]
    options = {k: v for k, v in base["OPTIONS"].items() if k != "loaders"}
    options["loaders"] = [("django.template.loaders.locmem.Loader", templates)]
    return override_settings(TEMPLATES=[{**base, "APP_DIRS": False, "OPTIONS": options}])


def pipeline(files, context, name="t"):
    """(HTML, text) of the per-message pipeline for template ``name`` of ``files``."""
    from txmail.rendering.pipeline import compile_body, render_body, render_text

    with locmem(files):
        templates = find_templates("T", [name])
        html = compile_body("T", templates, render_body(templates, context), context)
        return html, render_text(templates, context, html)


def compiled_for(files, name="t"):
    with locmem(files):
        precompile.clear()
        compiled, _ = precompile.get_compiled("T", find_templates("T", [name]))
        return compiled


MUST_FALL_BACK = {
    "mjml padding": ({"t.mjml": MJML.format('<mj-section padding="{{ p }}">'
                                            "<mj-column><mj-text>x</mj-text></mj-column>"
                                            "</mj-section>")}, "style"),
    "mjml image width": ({"t.mjml": MJML.format(COLUMN.format(
        '<mj-image src="a.png" width="{{ w }}" />'))}, ""),
    "dynamic class": ({"t.html": HTML.format('<p class="{{ cls }}">x</p>')}, "'class'"),
    "dynamic style": ({"t.html": HTML.format('<p style="color: {{ c }}">x</p>')}, "style"),
    "dynamic id": ({"t.html": HTML.format('<p id="{{ i }}">x</p>')}, "'id'"),
    "tag name": ({"t.html": HTML.format("<h{{ n }}>x</h{{ n }}>")}, "tag or attribute name"),
    "attribute name": ({"t.html": HTML.format('<p {{ a }}="1">x</p>')}, "name"),
    "if in mj-head": ({"t.mjml": "<mjml><mj-head>{% if x %}<mj-title>A</mj-title>"
                                 "{% endif %}</mj-head><mj-body></mj-body></mjml>"}, ""),
    "for around mj-column": ({"t.mjml": MJML.format(
        "<mj-section>{% for i in items %}<mj-column><mj-text>{{ i }}</mj-text>"
        "</mj-column>{% endfor %}</mj-section>")}, "for"),
    "var in style": ({"t.html": "<html><head><style>.a { color: {{ c }}; }</style>"
                                "</head><body><p class='a'>x</p></body></html>"}, "style"),
    "var in mj-style": ({"t.mjml": "<mjml><mj-head><mj-style>.a { color: {{ c }}; }"
                                   "</mj-style></mj-head><mj-body></mj-body></mjml>"}, ""),
    "var in inline mj-style": ({"t.mjml": '<mjml><mj-head><mj-style inline="inline">.a '
                                          "{ color: {{ c }}; }</mj-style></mj-head><mj-body>"
                                          + COLUMN.format('<mj-text><p class="a">x</p>'
                                                          "</mj-text>")
                                          + "</mj-body></mjml>"}, ""),
    "for in a link's URL": ({"t.html": HTML.format(
        '<a href="/a?{% for i in l %}{{ i }}{% endfor %}">x</a>')}, "inside a link"),
    "if partly in an attribute": ({"t.html": HTML.format(
        '<img src="{% if x %}/a.png">{% else %}/b.png">{% endif %}')}, "only partly inside"),
    "tag in an unquoted MJML value": ({"t.mjml": MJML.format(COLUMN.format(
        "<mj-image src={{ src }} />"))}, "quote the value of src"),
    "dynamic include": ({"t.html": HTML.format("{% include name %}")}, "variable"),
    "dynamic extends": ({"t.html": "{% extends base %}"}, "variable"),
    "include only": ({"t.html": HTML.format('{% include "p.html" only %}'),
                      "p.html": "<p>x</p>"}, "only"),
    "autoescape": ({"t.html": HTML.format("{% autoescape off %}{{ x }}{% endautoescape %}")},
                   "autoescape"),
    "spaceless": ({"t.html": HTML.format("{% spaceless %}<p> x </p>{% endspaceless %}")},
                  "spaceless"),
    "cycle": ({"t.html": HTML.format("{% for i in l %}<p>{% cycle 'a' 'b' %}</p>{% endfor %}")},
              "cycle"),
    "var in comment": ({"t.html": HTML.format("<!-- {{ x }} --><p>x</p>")}, "comment"),
    "var in conditional comment": ({"t.html": HTML.format(
        "<!--[if mso]><p>{{ x }}</p><![endif]-->")}, "comment"),
    "sibling css and a loop": ({"t.html": "<html><head><style>li:first-child { color: red; }"
                                          "</style></head><body><ul>{% for i in l %}<li>{{ i }}"
                                          "</li>{% endfor %}</ul></body></html>"}, "siblings"),
    "blocktrans with markup": ({"t.html": HTML.format(
        "{% load i18n %}{% blocktrans %}<b>Hi</b> {{ n }}{% endblocktrans %}")}, "markup"),
    "dynamic mj-include": ({"t.mjml": MJML.format('<mj-include path="{{ p }}" />')}, ""),
    "var in pre": ({"t.html": HTML.format("<pre>{{ x }}</pre>")}, "pre"),
    "block tag inside a link": ({"t.html": HTML.format(
        '<a href="https://e.com/">{% if x %}A{% endif %}</a>')}, "link"),
    "width attribute": ({"t.html": HTML.format('<img src="a.png" width="{{ w }}">')}, "width"),
    # MRML's <head> CSS for images depends on whether any image renders at all:
    # here on an {% if %} inside a loop, which renders once per item.
    "if around the only image, in a loop": ({"t.mjml": MJML.format(
        COLUMN.format("<mj-text>Hi</mj-text>") + "{% for i in items %}" + COLUMN.format(
            '{% if i %}<mj-image src="https://e.com/a.png" />{% endif %}<mj-text>x</mj-text>')
        + "{% endfor %}")}, "{% if i %} changes the <head> CSS"),
    "var in abbr": ({"t.html": HTML.format("<abbr title='t'>{{ x }}</abbr>")}, "abbr"),
    "var in del": ({"t.html": HTML.format("<p><del>{{ x }}</del></p>")}, "del"),
    "var in iframe": ({"t.html": HTML.format("<iframe>{{ x }}</iframe>")}, "iframe"),
    "block tags only in hidden markup": ({"t.html": HTML.format(
        '<div style="display:none">{% if x %}</div><p>{{ y }}</p>'
        '<div style="display:none">{% endif %}</div>')}, "partly kept"),
}

MUST_COMPILE = {
    "vars in text and safe attributes": {"t.html": HTML.format(
        '<a href="{{ url }}" title="{{ t }}"><img src="{{ src }}" alt="{{ alt }}"></a>'
        "<p>{{ name }}</p>")},
    "if inside mj-text": {"t.mjml": MJML.format(COLUMN.format(
        "<mj-text>{% if x %}<p>A {{ x }}</p>{% else %}<p>B</p>{% endif %}</mj-text>"))},
    # (With no other section, zero iterations leave an empty mj-body, which MRML
    # renders differently: that one falls back.)
    "for around mj-section": {"t.mjml": MJML.format(
        COLUMN.format("<mj-text>Hi</mj-text>") + "{% for i in items %}"
        + COLUMN.format("<mj-text>{{ i }}</mj-text>") + "{% endfor %}")},
    "comments": {"t.html": HTML.format(
        "{# c #}{% comment %}<b>{{ x }}</b>{% endcomment %}<p>y</p>")},
    "trans and url-ish tags": {"t.html": HTML.format(
        '{% load i18n %}<p>{% translate "Hello" %} {% now "Y" %}</p>')},
    "static include with": {"t.html": HTML.format('{% include "p.html" with who=name %}'),
                            "p.html": "<p>{{ who }}</p>"},
    # The <head> then depends on which render: one head per outcome, proven.
    "ifs around every image": {"t.mjml": MJML.format(COLUMN.format(
        '{% if a %}<mj-image src="https://e.com/a.png" />{% endif %}'
        '{% if b %}<mj-image src="https://e.com/b.png" />{% endif %}'
        "<mj-text>Hi</mj-text>"))},
    "if around a section of a width found nowhere else": {"t.mjml": MJML.format(
        COLUMN.format("<mj-text>Hi</mj-text>") + "{% if x %}<mj-section>"
        '<mj-column width="35%"><mj-text>a</mj-text></mj-column>'
        '<mj-column width="65%"><mj-text>{{ x }}</mj-text></mj-column></mj-section>{% endif %}')},
    "if in a link's URL": {"t.html": HTML.format(
        '<a href="{% if x %}/a/{{ x }}{% else %}/b{% endif %}">x</a>')},
    "if in an image's src": {"t.html": HTML.format(
        '<img src="{% if x %}{{ x }}{% else %}/logo.png{% endif %}" alt="a">')},
    "if in mj-image's src": {"t.mjml": MJML.format(COLUMN.format(
        '<mj-image src="{% if x %}{{ x }}{% else %}https://e.com/l.png{% endif %}" '
        'href="{{ url }}" />'))},
    "mj-raw tags between sections in mj-wrapper": {"t.mjml": MJML.format(
        "<mj-wrapper>" + COLUMN.format("<mj-text>a</mj-text>")
        + "<mj-raw>{% if x %}</mj-raw>" + COLUMN.format("<mj-text>{{ x }}</mj-text>")
        + "<mj-raw>{% endif %}</mj-raw></mj-wrapper>")},
    "mj-include": {"t.mjml": MJML.format('<mj-include path="p.mjml" />'),
                   "p.mjml": COLUMN.format("<mj-text>{{ name }}</mj-text>")},
}


@pytest.mark.parametrize("case", sorted(MUST_FALL_BACK))
def test_detector_falls_back(case):
    files, words = MUST_FALL_BACK[case]
    reason = compiled_for(files).fallback_reason
    assert reason, f"{case} should fall back"
    assert words in reason


@pytest.mark.parametrize("case", sorted(MUST_COMPILE))
def test_detector_compiles(case):
    assert compiled_for(MUST_COMPILE[case]).fallback_reason is None


def test_extends_blocks_super_and_loads_are_flattened():
    files = {
        "root.html": "{% load i18n %}<html><body><h1>{% block h %}R{% endblock %}</h1>"
                     "{% block body %}<p>root</p>{% endblock %}</body></html>",
        "mid.html": '{% extends "root.html" %}{% block h %}M {{ block.super }}{% endblock %}',
        "t.html": '{% extends "mid.html" %}{% load static i18n %}ignored outside blocks'
                  '{% block h %}{{ block.super }} T{% endblock %}'
                  '{% block body %}{% translate "Hi" %} {{ name }}{% endblock %}',
    }
    compiled = compiled_for(files)
    assert compiled.fallback_reason is None
    source = compiled.html.source
    assert source.startswith("{% load i18n %}{% load static i18n %}")
    assert "ignored" not in source
    with locmem(files):
        html, text = compiled.render({"name": "Ann & Bob"})
    assert "<h1>M R T</h1>" in html
    assert "Hi Ann &amp; Bob" in html
    assert text == "M R T\n\nHi Ann & Bob\n"


class Greeting(Message):
    template_name = "t"
    subject = "Hi {{ name }}"

    def __init__(self, name, context=None, **kwargs):
        super().__init__(
            to=[f"{name.lower()}@example.com"], context={"name": name, **(context or {})},
            **kwargs,
        )


def test_each_recipient_sees_only_their_own_data(mailoutbox):
    files = {"t.html": HTML.format('<p class="a">Dear {{ name }}</p>'
                                   '<a href="https://e.com/u/{{ name|urlencode }}">me</a>')}
    with locmem(files):
        precompile.clear()
        Greeting("Ann").send()
        Greeting("Bob").send()
        compiled, _ = precompile.get_compiled("T", find_templates("T", ["t"]))
    ann, bob = mailoutbox
    assert ann.to == ["ann@example.com"] and bob.to == ["bob@example.com"]
    for email, me, other in ((ann, "Ann", "Bob"), (bob, "Bob", "Ann")):
        html = email.alternatives[0][0]
        assert f"Dear {me}" in html and f"/u/{me}" in html and other not in html
        assert f"Dear {me}" in email.body and other not in email.body
    assert "Ann" not in compiled.html.source and "Bob" not in compiled.html.source


def test_rendered_says_which_path_and_why():
    files = {"t.html": HTML.format("<p>{{ name }}</p>"),
             "s.html": HTML.format('<p style="color:{{ c }}">{{ name }}</p>')}
    with locmem(files):
        precompile.clear()
        assert Greeting("Ann").render().fallback_reason is None
        markup = Greeting("Ann", context={"name": _safe("<b>Ann</b>")}).render()
        assert "rendered in full" in markup.fallback_reason
        assert "<b>Ann</b>" in markup.html  # the pipeline kept the markup

        class Styled(Greeting):
            template_name = "s"

        reason = Styled("Ann", context={"c": "red"}).render().fallback_reason
        assert "style" in reason


def _safe(text):
    from django.utils.safestring import mark_safe

    return mark_safe(text)


def test_fallback_is_logged_once_per_template(caplog):
    files = {"t.html": HTML.format('<p class="{{ c }}">x</p>')}
    with locmem(files), caplog.at_level(logging.WARNING, logger="txmail.rendering.compiled"):
        precompile.clear()
        Greeting("Ann", context={"c": "a"}).render()
        Greeting("Bob", context={"c": "b"}).render()
    warnings = [r for r in caplog.records if r.name == "txmail.rendering.compiled"]
    assert len(warnings) == 1
    assert "'class' attribute" in warnings[0].getMessage()


def test_each_template_compiles_once(monkeypatch):
    calls = []
    original = precompile_cache.compile_templates
    monkeypatch.setattr(precompile_cache, "compile_templates",
                        lambda *a: calls.append(a) or original(*a))
    with locmem({"t.html": HTML.format("<p>{{ name }}</p>")}):
        precompile.clear()
        for name in ("Ann", "Bob", "Cy"):
            Greeting(name).render()
    assert len(calls) == 1


def test_precompile_setting_off_uses_the_pipeline():
    with locmem({"t.html": HTML.format("<p>{{ name }}</p>")}), override_settings(
        TXMAIL={"PRECOMPILE": False}
    ):
        rendered = Greeting("Ann").render()
    assert "PRECOMPILE" in rendered.fallback_reason
    assert "Ann" in rendered.html


@pytest.mark.parametrize("edited", ["t.html", "part.html"])
def test_debug_template_edits_apply_on_next_render(tmp_path, edited):
    body = '<p>Body v1 {{ name }}</p>{% include "part.html" %}'
    (tmp_path / "t.html").write_text(HTML.format(body))
    (tmp_path / "part.html").write_text("<p>Part v1</p>")
    base = settings.TEMPLATES[0]
    templates = [{**base, "DIRS": [tmp_path], "APP_DIRS": False}]
    with override_settings(DEBUG=True, TEMPLATES=templates):
        precompile.clear()
        first = Greeting("Ann").render()
        assert first.fallback_reason is None and "Body v1" in first.html
        path = tmp_path / edited
        path.write_text(path.read_text().replace("v1", "version 2"))
        second = Greeting("Ann").render()
    assert second.fallback_reason is None
    assert "version 2" in second.html and "version 2" in second.text


def test_without_debug_a_cached_set_is_reused(tmp_path):
    (tmp_path / "t.html").write_text(HTML.format("<p>v1 {{ name }}</p>"))
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path], "APP_DIRS": False}]
    with override_settings(DEBUG=False, TEMPLATES=templates):
        precompile.clear()
        first, _ = precompile.get_compiled("T", find_templates("T", ["t"]))
        again, _ = precompile.get_compiled("T", find_templates("T", ["t"]))
    assert first is again


def test_engine_without_autoescape_renders_like_the_pipeline():
    from txmail.rendering.pipeline import compile_body, render_body, render_text

    files = {"t.html": HTML.format('<p title="{{ name }}">Hi {{ name }}</p><p>{{ n }}</p>')}
    base = settings.TEMPLATES[0]
    options = {**base["OPTIONS"], "autoescape": False,
               "loaders": [("django.template.loaders.locmem.Loader", files)]}
    with override_settings(TEMPLATES=[{**base, "APP_DIRS": False, "OPTIONS": options}]):
        precompile.clear()
        templates = find_templates("T", ["t"])
        compiled, _ = precompile.get_compiled("T", templates)
        assert compiled.fallback_reason is None
        for name in ("Ann", "Zoë Ünal", "Tom &amp; Jerry"):
            context = {"name": name, "n": 3}
            html, text = compiled.render(context)
            expected = compile_body("T", templates, render_body(templates, context), context)
            assert precompile.normalize(html) == precompile.normalize(expected)
            assert text == render_text(templates, context, expected)
        with pytest.raises(precompile.NeedsFallback):
            compiled.render({"name": "Tom & Jerry"})  # a raw "&" the parser would fix


def test_links_with_an_empty_text_follow_text_py():
    files = {
        "t.html": HTML.format('<p><a href="https://e.com/1">{{ name }}</a></p>'),
        "i.html": HTML.format('<p><a href="https://e.com/2">{{ name }}'
                              '<img src="https://e.com/x.png" alt="Logo"></a></p>'),
    }

    class WithImage(Greeting):
        template_name = "i"

    with locmem(files):
        precompile.clear()
        plain = Greeting("Ann", context={"name": ""}).render()
        assert plain.fallback_reason is None  # no image: "https://e.com/1" alone
        assert plain.text == "https://e.com/1\n"
        assert WithImage("Ann").render().fallback_reason is None
        empty = WithImage("Ann", context={"name": ""}).render()
        assert "link's text is empty" in empty.fallback_reason
        assert empty.text == "Logo (https://e.com/2)\n"  # the pipeline's answer


def test_warm_up_compiles_registered_classes():
    precompile.clear()
    results = warm_up()
    assert results["testapp.Hello"] is None
    assert results["testapp.Promo"] is None


def test_image_only_links_without_a_url_read_as_text_py_reads_them():
    # text.py unwraps a link without a usable URL and drops its images, alt and all.
    files = {"t.html": HTML.format(
        '<p>Hi</p><p><a href="{{ url }}"><img src="https://e.com/i.png" alt="{{ name }}"></a></p>')}
    with locmem(files):
        precompile.clear()
        templates = find_templates("T", ["t"])
        compiled, _ = precompile.get_compiled("T", templates)
        assert compiled.fallback_reason is None
        for url, expected in (("#top", "Hi\n"), ("", "Hi\n"),
                              ("https://e.com/", "Hi\n\nLogo (https://e.com/)\n")):
            context = {"url": url, "name": "Logo"}
            _, text = compiled.render(dict(context))
            assert text == expected
            assert text == pipeline(files, dict(context))[1]


@pytest.mark.parametrize("grouping", [False, True])
def test_numbers_render_as_the_pipeline_renders_them(grouping):
    """An int takes the runtime's short cut unless a thousand separator applies."""
    files = {"t.mjml": MJML.format(COLUMN.format(
        "<mj-text>{{ n }} and {{ small }}, {{ price }}, {{ flag }}</mj-text>"))}
    context = {"n": 1234567, "small": -7, "price": 3.5, "flag": True}
    with override_settings(USE_THOUSAND_SEPARATOR=grouping):
        compiled = compiled_for(files)
        assert compiled.fallback_reason is None, compiled.fallback_reason
        with locmem(files):
            html, text = compiled.render(context)
        expected_html, expected_text = pipeline(files, context)
    assert precompile.normalize(html) == precompile.normalize(expected_html)
    assert text == expected_text
    assert ("1,234,567" if grouping else "1234567 and -7, 3.5, True") in text
