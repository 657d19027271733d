"""The <html> element's lang (and dir) are the message's language, in both pipelines."""

import re

import pytest
from django.test import override_settings

from txmail import Message

LANGUAGES = [("en-us", "English"), ("fr", "French"), ("ar", "Arabic"), ("zh-hans", "Chinese")]
PIPELINES = {"compiled": {}, "per-message": {"PRECOMPILE": False}}


class Plain(Message):
    subject = "Hello"

    def __init__(self, template, language):
        super().__init__(to=["ada@example.com"], language=language)
        self.template_name = f"testapp/emails/{template}"


def html_tag(template, language, pipeline):
    with override_settings(LANGUAGES=LANGUAGES, TXMAIL=PIPELINES[pipeline]):
        rendered = Plain(template, language).render()
    assert (rendered.fallback_reason is None) == (pipeline == "compiled")
    return re.search(r"<html\b[^>]*>", rendered.html).group(0)


@pytest.fixture(params=list(PIPELINES))
def pipeline(request):
    return request.param


@pytest.mark.parametrize(("language", "lang"), [("en-us", "en-US"), ("fr", "fr"),
                                                ("zh-hans", "zh-Hans")])
def test_an_mjml_without_lang_says_the_message_language(pipeline, language, lang):
    tag = html_tag("lang_plain", language, pipeline)
    assert f'lang="{lang}" dir="auto"' in tag


@pytest.mark.parametrize(("template", "expected"), [
    ("lang_plain_html", '<html lang="fr">'), ("lang_explicit_html", '<html lang="en-GB">')])
def test_an_html_template_gets_lang_only_if_it_has_none(pipeline, template, expected):
    assert html_tag(template, "fr", pipeline) == expected


def test_a_right_to_left_language_says_so(pipeline):
    assert 'lang="ar" dir="rtl"' in html_tag("lang_plain", "ar", pipeline)
    assert html_tag("lang_plain_html", "ar", pipeline) == '<html lang="ar" dir="rtl">'


def test_the_authors_mjml_lang_stays(pipeline):
    assert 'lang="en-GB" dir="auto"' in html_tag("lang_explicit", "ar", pipeline)
