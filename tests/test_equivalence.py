"""The precompiled path renders what the per-message pipeline renders.

For every corpus template, Hypothesis generates contexts (unicode, ``<>&"'``,
empty and long lists, very long strings, missing variables, several languages)
and both paths must give the same text part, exactly, and the same HTML after
normalising insignificant whitespace between tags (``txmail.rendering.compiled.normalize``).
"""

import datetime

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.corpus import CORPUS, TEMPLATES_DIR, typical_context
from txmail.rendering import compiled as precompile
from txmail.rendering.find import find_templates
from txmail.rendering.pipeline import compile_body, render_body, render_text

OWNER = "Corpus"


@pytest.fixture(scope="module", autouse=True)
def corpus_templates():
    templates = [{**settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}]
    with override_settings(TEMPLATES=templates):
        precompile.clear()
        yield
    precompile.clear()


def both_paths(name, context):
    """Return (pipeline (html, text), compiled (html, text), fallback reason).

    Where the pipeline fails (MRML rejects a control character…), the compiled
    path must have refused the values too, so the message gets the same error.
    """
    templates = find_templates(OWNER, [name])
    compiled, templates = precompile.get_compiled(OWNER, templates)
    reason = compiled.fallback_reason
    fast = error = None
    if reason is None:
        try:
            fast_html, fast_text = compiled.render(context)
        except precompile.NeedsFallback as exc:
            reason = str(exc)
        except Exception as exc:  # must be the pipeline's error too
            error = exc
        else:
            if fast_text is None:
                fast_text = render_text(templates, context, fast_html)
            fast = (fast_html, fast_text)
    try:
        html = compile_body(OWNER, templates, render_body(templates, context), context)
        expected = (html, render_text(templates, context, html))
    except Exception as exc:
        assert fast is None, "the compiled path rendered what the pipeline rejects"
        if error is not None:
            assert type(error) is type(exc)
        return None, None, reason
    assert error is None, f"only the compiled path failed: {error!r}"
    return expected, fast or expected, reason


def assert_same(expected, got):
    if expected is None:  # both paths refused the values
        return
    # HTML: MRML lays out the whitespace between tags per source; that is
    # insignificant. The text part is compared exactly, byte for byte.
    assert precompile.normalize(got[0]) == precompile.normalize(expected[0]), "HTML differs"
    assert got[1] == expected[1], "text differs"


# -- strategies ----------------------------------------------------------------

SPECIAL = st.sampled_from([
    "<b>bold</b>", "Tom & Jerry", '"quoted"', "it's", "", " ", "a  b", "x\ny",
    "&amp;", "&lt;not a tag&gt;", "<script>alert(1)</script>", "Zoë", "日本語",
    "emoji 🎉", "\u00a0nbsp", "1. not a list", "* star", "# hash", "{{ x }}",
    " lead", "trail ", "  both  ", "\t tab\n", "   ", "Ann\x0b", "\x08", "\ufffe",
    "{% if %}", "javascript:alert(1)", "mailto:x@example.com", "\u200bzero",
])
PLAIN = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
    max_size=30,
)
LONG = st.text(alphabet="ab cé<>&\"'\n", min_size=1000, max_size=3000)
# Everyday values (letters, accents, spaces, <>&"'), weighted up so that
# most contexts render through the compiled path rather than the fallback.
NICE = st.text(alphabet="abcXYZ 0123 éüß日本 .,-!?:;()<>&\"'", min_size=1, max_size=20)
TEXT = st.one_of(NICE, NICE, NICE, PLAIN, SPECIAL, st.text(max_size=15), LONG)
URL = st.one_of(
    st.sampled_from([
        "https://example.com/a?x=1&y=2", "https://example.com/", "", "#top",
        "mailto:ann@example.com", "https://example.com/ü ber", "/relative/path",
    ]),
    *[st.builds("https://example.com/{}".format, st.text(
        alphabet="abcxyz0123456789-._~:/?#@!$()*+,;=%&'", max_size=20))] * 3,
    TEXT,
)
ITEM = st.fixed_dictionaries(
    {"title": TEXT, "url": URL, "price": TEXT, "qty": st.integers(-1, 4)},
    optional={"summary": TEXT},
)
ITEMS = st.one_of(st.lists(ITEM, max_size=4), st.lists(ITEM, min_size=25, max_size=30))
WHEN = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2100, 1, 1),
    timezones=st.just(datetime.UTC),
)
FIELDS = {
    "name": TEXT, "username": TEXT, "company": TEXT,
    "email": st.one_of(st.emails(), st.emails(), TEXT),
    "logo_url": URL, "url": URL, "unsubscribe_url": URL, "order_id": TEXT,
    "total": TEXT, "note": TEXT, "device": TEXT, "when": WHEN,
    "show_promo": st.booleans(), "promo_code": TEXT, "count": st.integers(0, 3),
    "ratio": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "items": ITEMS,
    "groups": st.lists(
        st.fixed_dictionaries({"label": TEXT, "items": st.lists(ITEM, max_size=3)}),
        max_size=3,
    ),
}
# Half the contexts have every variable (values may still be empty), half miss some.
CONTEXT = st.one_of(st.fixed_dictionaries(FIELDS), st.fixed_dictionaries({}, optional=FIELDS))


@pytest.mark.parametrize("name", sorted(CORPUS))
@hsettings(
    max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(context=CONTEXT, language=st.sampled_from(["en", "fr", "de"]))
def test_compiled_renders_like_the_pipeline(name, context, language):
    with translation.override(language):
        expected, got, _reason = both_paths(name, context)
    assert_same(expected, got)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_compiles_or_falls_back_as_declared(name):
    templates = find_templates(OWNER, [name])
    compiled, _ = precompile.get_compiled(OWNER, templates)
    if CORPUS[name]:
        assert compiled.fallback_reason is None
    else:
        assert compiled.fallback_reason


@pytest.mark.parametrize("name", sorted(n for n, ok in CORPUS.items() if ok))
def test_typical_contexts_take_the_compiled_path(name):
    for recipient in range(4):
        context = typical_context(recipient, n_items=recipient)
        expected, got, reason = both_paths(name, context)
        assert reason is None, reason
        assert_same(expected, got)



@pytest.mark.parametrize("title", ["", " ", "Ann"])
def test_a_link_without_href_reads_as_its_text_even_when_empty(title):
    # Found by the property above: an empty, unlinked cell at the start of a
    # row left the compiled text with the space html2text drops there.
    context = {"name": "Ann", "items": [{"title": title, "url": "", "price": "9", "qty": 1}]}
    expected, got, _reason = both_paths("corpus/plain_loop", context)
    assert expected[1].endswith(f"\n{title.strip() + ' ' if title.strip() else ''}1 9\n")
    assert_same(expected, got)


@pytest.mark.parametrize("code", [" ", "   ", "", "A1", " A1 "])
def test_a_value_of_spaces_in_a_node_of_its_own_merges_with_the_next_space(code):
    # Found by the property above: "Use code <strong>{{ promo_code }}</strong> for"
    # with a code of spaces reads "Use code  for" in html2text, not three spaces.
    context = {"name": "Ann", "items": [], "show_promo": True, "promo_code": code}
    expected, got, _reason = both_paths("corpus/plain_loop", context)
    assert "Use code " in expected[1]
    assert_same(expected, got)


@pytest.mark.parametrize(("name", "context"), [
    # Found by explore runs: html2text collapses the spaces inside a link's
    # "text (url)" that an href brings...
    ("corpus/conditional_href", {"name": "Ann", "unsubscribe_url": "0  0", "url": "/x"}),
    ("corpus/loop_background", {"url": "/x", "items": [
        {"title": "T", "url": "0  0", "price": "1", "qty": 1}]}),
    # ...and reads the spaces after an entity (&lt;) as a node of their own.
    ("corpus/plain_loop", {"items": [], "show_promo": True, "promo_code": "< "}),
    ("corpus/plain_loop", {"items": [], "show_promo": True, "promo_code": "a & "}),
])
def test_whitespace_next_to_links_and_entities(name, context):
    expected, got, _reason = both_paths(name, context)
    assert_same(expected, got)
