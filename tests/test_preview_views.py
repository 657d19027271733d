"""The preview UI through Django's test client."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client

from tests.preview_helpers import csrf_token, debug, mailbox_path, preview_classes, srcdoc
from tests.testapp.preview_emails import PDF, PNG, Rich
from txmail.backends.mailbox import Mailbox
from txmail.preview.display import parse
from txmail.preview.pages import content_disposition
from txmail.rendering.variables import MARKER

pytestmark = pytest.mark.django_db
__all__ = ["debug", "mailbox_path", "preview_classes"]  # fixtures used by name


def normalized(raw: bytes) -> bytes:
    """Drop Date and Message-ID, and name MIME boundaries by position."""
    raw = re.sub(rb"(?m)^(Date|Message-ID): .*\n", b"", raw)
    boundaries = re.findall(rb'boundary="([^"]+)"', raw)
    for number, boundary in enumerate(dict.fromkeys(boundaries)):
        raw = raw.replace(boundary, b"BOUNDARY-%d" % number)
    return raw


# -- access -------------------------------------------------------------------------


URLS = [
    "/emails/",
    "/emails/testapp.Hello/",
    "/emails/testapp.Hello/default/",
    "/emails/testapp.Hello/default/eml/",
    "/emails/testapp.Hello/default/html/",
    "/emails/testapp.Rich/default/parts/0/",
    "/emails/sent/",
    "/emails/_assets/preview.css",
]


@pytest.mark.parametrize("url", URLS)
def test_everything_is_404_by_default(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", [*URLS, "/emails/testapp.Hello/default/send/",
                                 "/emails/sent/clear/", "/emails/_assets/preview.css"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_any_method_is_404_by_default(client, url, method):
    # A 405 would reveal that the URL exists.
    assert getattr(client, method)(url).status_code == 404


def test_send_and_clear_are_404_by_default(client):
    assert client.post("/emails/testapp.Hello/default/send/",
                       {"to": "x@example.com"}).status_code == 404
    assert client.post("/emails/sent/clear/").status_code == 404
    assert mail.outbox == []


@pytest.mark.parametrize("url", URLS)
def test_debug_opens_everything(client, debug, url):
    assert client.get(url).status_code in (200, 302)


def test_preview_enabled_false_wins_over_debug(client, debug):
    debug.TXMAIL = {"PREVIEW_ENABLED": False}
    assert client.get("/emails/").status_code == 404


def test_enabled_outside_debug_is_staff_only(client, settings):
    settings.TXMAIL = {"PREVIEW_ENABLED": True, "PREVIEW_SPAM_SCORE": False}
    assert client.get("/emails/").status_code == 404  # anonymous
    client.force_login(User.objects.create(username="ann"))
    assert client.get("/emails/").status_code == 404  # not staff
    client.force_login(User.objects.create(username="boss", is_staff=True))
    page = client.get("/emails/testapp.Hello/default/")
    assert page.status_code == 200
    assert "staff only" in page.content.decode()


def test_every_page_has_a_strict_content_security_policy(client, debug):
    for url in ["/emails/", "/emails/testapp.Rich/default/", "/emails/sent/",
                "/emails/testapp.Exploding/default/", "/emails/_assets/preview.css"]:
        csp = client.get(url)["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        script = re.search(r"script-src ([^;]*)", csp).group(1)
        assert script.strip() == "'self'", url


# -- index ----------------------------------------------------------------------------


def test_index_groups_classes_with_variants_and_descriptions(client, debug):
    page = client.get("/emails/").content.decode()
    assert "Testapp" in page  # the app's verbose name heads the group
    for name in ["Hello", "Promo", "Rich", "Scripted", "Bare", "Exploding"]:
        assert f'href="/emails/testapp.{name}/"' in page
    assert 'href="/emails/testapp.Rich/huge/"' in page
    assert 'href="/emails/testapp.Rich/anything/"' in page
    assert "HTML with an inline image, an attachment" in page
    assert "Second docstring line" not in page
    assert "def preview(cls)" in page  # how to add one, for Bare


def test_class_url_redirects_to_its_default_variant(client, debug):
    response = client.get("/emails/testapp.Rich/")
    assert response.status_code == 302
    assert response["Location"] == "/emails/testapp.Rich/default/"


def test_class_without_preview_explains_how_to_add_one(client, debug):
    page = client.get("/emails/testapp.Bare/")
    assert page.status_code == 200
    assert "classmethod" in page.content.decode()


@pytest.mark.parametrize("url", ["/emails/testapp.Nope/", "/emails/testapp.Rich/nope/",
                                 "/emails/testapp.Bare/default/"])
def test_unknown_class_or_variant_is_404(client, debug, url):
    assert client.get(url).status_code == 404


# -- message page ----------------------------------------------------------------------


def test_message_page_shows_headers_parts_and_safe_frame(client, debug):
    response = client.get("/emails/testapp.Rich/default/")
    page = response.content.decode()
    for header, value in [("From", "Example Shop &lt;shop@example.com&gt;"),
                          ("To", "ann@example.com"), ("Cc", "cc@example.com"),
                          ("Bcc", "audit@example.com"), ("Reply-To", "help@example.com")]:
        assert f'<th scope="row">{header}</th><td>{value}</td>' in page
    assert '<h1 class="subject">Your order A-1</h1>' in page
    assert re.search(r'<th scope="row">Date</th><td>\w{3}, \d+ \w{3} \d{4}', page)
    assert "All headers" in page and "Message-ID" in page
    frame = re.search(r"<iframe class=\"frame frame-light\"[^>]*>", page).group(0)
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1)
    assert "allow-scripts" not in sandbox and "allow-top-navigation" not in sandbox
    assert "Hi Ann, your code is A-1." in srcdoc(page)
    assert "Hi Ann, your code is A-1.\n</pre>" in page  # the text part
    assert "Content-Type: multipart/mixed" in page  # the source
    assert "terms.pdf" in page and "logo.png" in page


def test_cid_images_become_data_uris_for_display_only(client, debug):
    page = client.get("/emails/testapp.Rich/default/").content.decode()
    shown = srcdoc(page)
    assert "cid:logo" not in shown
    assert "data:image/png;base64,iVBORw0KGgo" in shown
    eml = client.get("/emails/testapp.Rich/default/eml/").content
    assert b'src="cid:logo"' in eml


@pytest.mark.txmail_allow_undefined  # Rich's {{ padding }}: for the lint
def test_preview_is_the_email_that_send_sends(client, debug, mailoutbox):
    eml = client.get("/emails/testapp.Rich/default/eml/").content
    Rich.preview().send()
    sent = mailoutbox[-1].message().as_bytes()
    assert normalized(eml) == normalized(sent)
    assert eml != sent  # Date and Message-ID do differ
    assert normalized(eml) == normalized(Rich.preview().message().message().as_bytes())


def test_eml_download_is_named_and_parses(client, debug):
    response = client.get("/emails/testapp.Hello/default/eml/")
    assert response["Content-Type"] == "message/rfc822"
    assert "testapp.Hello-default.eml" in response["Content-Disposition"]
    assert parse(response.content)["Subject"] == "Hello Ann"


def test_attachments_download_with_their_content(client, debug):
    page = client.get("/emails/testapp.Rich/default/").content.decode()
    links = re.findall(r'<a href="(/emails/testapp.Rich/default/parts/\d+/)" download>'
                       r"([^<]+)</a>", page)
    files = {name: client.get(url) for url, name in links}
    assert files["terms.pdf"].content == PDF
    assert files["terms.pdf"]["Content-Type"] == "application/pdf"
    assert files["logo.png"].content == PNG
    assert client.get("/emails/testapp.Rich/default/parts/9/").status_code == 404


def test_html_alone_is_sandboxed(client, debug):
    response = client.get("/emails/testapp.Scripted/default/html/")
    assert "sandbox" in response["Content-Security-Policy"]
    assert "allow-scripts" not in response["Content-Security-Policy"]
    assert b"Script test body" in response.content


def test_size_warning_above_gmail_clipping(client, debug):
    assert "Gmail will clip" not in client.get("/emails/testapp.Rich/default/").content.decode()
    page = client.get("/emails/testapp.Rich/huge/").content.decode()
    assert "Gmail will clip this message" in page


def test_lint_warnings(client, debug):
    page = client.get("/emails/testapp.Rich/default/").content.decode()
    assert ("{{ padding }} in &#x27;testapp/preview/rich.html&#x27; rendered as nothing: "
            "the context has no &#x27;padding&#x27;.") in page
    assert "nickname" not in page.split("warning")[1].split("</details>")[0]
    assert "Image without alt text: cid:logo" in page
    # rich.html's <html> has no lang: the message's language is added (item 8)
    assert "no lang attribute" not in page and '<html lang="en">' in srcdoc(page)
    assert "Relative URL /account/" in page
    hello = client.get("/emails/testapp.Hello/default/").content.decode()
    assert "no lang attribute" not in hello and "rendered as nothing" not in hello


@pytest.mark.txmail_allow_undefined  # Rich's {{ padding }}: for the lint
def test_lint_render_does_not_leak_into_the_message(client, debug):
    client.get("/emails/testapp.Rich/default/")
    eml = client.get("/emails/testapp.Rich/default/eml/").content
    assert MARKER.split("[")[0].encode() not in eml
    assert MARKER.split("[")[0] not in Rich.preview().render().html


def language_options(page):
    """The codes the language switch offers: its buttons or its drop-down."""
    nav = re.search(r'<nav class="seg seg-lang".*?</nav>', page, re.S)
    if nav:
        return re.findall(r'\?lang=([\w-]+)"', nav.group(0))
    select = re.search(r'<select id="tx-lang".*?</select>', page, re.S)
    return re.findall(r'<option value="([\w-]+)"', select.group(0)) if select else []


def test_language_switch_renders_through_the_language_hook(client, debug):
    french = client.get("/emails/testapp.Rich/default/?lang=fr").content.decode()
    assert 'class="lang-fr"' in srcdoc(french)
    # The default language and French, which the test app translates; not German.
    assert language_options(french) == ["en", "fr"]
    assert 'href="/emails/testapp.Rich/default/?lang=fr" title="French" aria-current' in french
    # A language asked for is offered too, to switch back from.
    german = client.get("/emails/testapp.Rich/default/?lang=de").content.decode()
    assert language_options(german) == ["en", "fr", "de"]
    hello = client.get("/emails/testapp.Hello/default/?lang=de").content.decode()
    assert '<html lang="de"' in srcdoc(hello)
    # An unknown code is ignored rather than rendered.
    assert 'class="lang-en"' in srcdoc(
        client.get("/emails/testapp.Rich/default/?lang=xx").content.decode())


def test_the_parameters_form_shows_only_when_there_are_parameters(client, debug):
    form = '<form class="card params"'
    assert form in client.get("/emails/testapp.Rich/default/").content.decode()  # name, code
    assert form not in client.get("/emails/testapp.Scripted/default/").content.decode()
    # **kwargs alone: nothing to fill in until the URL names one.
    anything = "/emails/testapp.Rich/anything/"
    assert form not in client.get(anything).content.decode()
    page = client.get(f"{anything}?x=1").content.decode()
    assert form in page and '<input name="x" value="1">' in page


def test_djangos_hundred_default_languages_offer_only_the_translated_ones(
        client, debug, settings):
    from django.conf import global_settings

    settings.LANGUAGES = global_settings.LANGUAGES
    page = client.get("/emails/testapp.Rich/default/").content.decode()
    assert len(settings.LANGUAGES) > 90
    assert language_options(page) == ["en", "fr"]
    assert '<select id="tx-lang"' not in page


def test_many_translated_languages_get_a_drop_down(client, debug, settings, tmp_path):
    from django.conf import global_settings

    catalog = (settings.LOCALE_PATHS[0] / "fr" / "LC_MESSAGES" / "django.mo").read_bytes()
    codes = ["de", "it", "ja", "nl", "pt-br", "sv"]
    for code in codes:
        directory = tmp_path / code.replace("-br", "_BR") / "LC_MESSAGES"
        directory.mkdir(parents=True)
        (directory / "django.mo").write_bytes(catalog)
    settings.LANGUAGES = global_settings.LANGUAGES
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS, tmp_path]
    page = client.get("/emails/testapp.Rich/default/?name=Zed&lang=ja").content.decode()
    assert sorted(language_options(page)) == sorted(["en", "fr", *codes])
    assert '<nav class="seg seg-lang"' not in page
    assert '<option value="ja" selected>ja · Japanese</option>' in page
    # The drop-down's form keeps the other parameters.
    assert '<input type="hidden" name="name" value="Zed">' in page
    assert 'class="lang-ja"' in srcdoc(page)


def test_one_language_is_no_switch(client, debug, settings):
    settings.LANGUAGES = [("en", "English"), ("de", "German")]
    page = client.get("/emails/testapp.Rich/default/").content.decode()
    assert language_options(page) == []


def test_overridden_get_language_wins_and_the_page_says_so(client, debug):
    page = client.get("/emails/testapp.German/default/?lang=fr").content.decode()
    assert 'class="lang-de"' in srcdoc(page)
    assert "get_language() chose &#x27;de&#x27; over the requested &#x27;fr&#x27;" in page


def test_query_parameters_reach_the_preview_method(client, debug):
    page = client.get("/emails/testapp.Rich/default/?name=Zed&code=Z-9&junk=1")
    assert "Your order Z-9" in page.content.decode()
    assert "Hi Zed" in srcdoc(page.content.decode())
    anything = client.get("/emails/testapp.Rich/anything/?x=1&lang=fr").content.decode()
    assert "Hi [('x', '1')]," in srcdoc(anything)  # every parameter but lang


def test_opening_a_preview_never_writes_to_the_database(client, debug):
    before = User.objects.count()
    page = client.get("/emails/testapp.DbWriter/default/")
    assert page.status_code == 200
    assert "Hello preview-writer" in page.content.decode()  # the factory did run
    client.get("/emails/testapp.DbWriter/default/eml/")
    assert User.objects.count() == before
    assert not User.objects.filter(username="preview-writer").exists()


# -- errors -----------------------------------------------------------------------------


def test_failing_factory_shows_the_error_and_the_index_still_works(client, debug):
    response = client.get("/emails/testapp.Exploding/default/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "sample data exploded" in page
    assert "Traceback (most recent call last)" in page
    assert 'href="/emails/testapp.Hello/"' in page  # the sidebar lists the others
    index = client.get("/emails/")
    assert index.status_code == 200
    assert 'href="/emails/testapp.Exploding/"' in index.content.decode()
    assert client.get("/emails/testapp.Hello/default/").status_code == 200


def test_missing_template_shows_what_was_tried(client, debug):
    response = client.get("/emails/testapp.MissingTemplate/default/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "TemplateNotFound" in page
    tried = page.split("Templates tried")[1].split("</details>")[0]
    assert "testapp/preview/does_not_exist.mjml</code>" in tried


def test_no_traceback_outside_debug(client, settings):
    settings.TXMAIL = {"PREVIEW_ENABLED": True, "PREVIEW_SPAM_SCORE": False}
    client.force_login(User.objects.create(username="boss", is_staff=True))
    page = client.get("/emails/testapp.Exploding/default/").content.decode()
    assert "sample data exploded" in page
    assert "Traceback (most recent call last)" not in page


# -- send a test ------------------------------------------------------------------------


def test_send_test_requires_csrf(debug, mailoutbox):
    client = Client(enforce_csrf_checks=True)
    url = "/emails/testapp.Rich/default/send/"
    assert client.post(url, {"to": "qa@example.com"}).status_code == 403
    assert mailoutbox == []
    token = csrf_token(client, "/emails/testapp.Rich/default/")
    response = client.post(url, {"to": "qa@example.com", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == "/emails/testapp.Rich/default/"
    assert len(mailoutbox) == 1


def test_send_test_sends_the_preview_to_one_address_through_the_class_mailer(
        client, debug, mailoutbox):
    response = client.post("/emails/testapp.Rich/default/send/?name=Zed&lang=fr",
                           {"to": "qa@example.com"}, follow=True)
    sent = mailoutbox[0]
    assert (sent.to, sent.cc, sent.bcc) == (["qa@example.com"], [], [])
    assert sent.subject == "Your order A-1"
    assert "Hi Zed" in sent.alternatives[0].content
    assert 'class="lang-fr"' in sent.alternatives[0].content
    assert sent.sent_using == "default"
    assert "Sent to qa@example.com through mailer &#x27;default&#x27;" in (
        response.content.decode())
    client.post("/emails/testapp.Hello/default/send/", {"to": "qa@example.com"})
    assert mailoutbox[1].sent_using == "transactional"


def test_send_test_reaches_only_the_tester_even_with_recipient_hooks(
        client, debug, mailoutbox):
    client.post("/emails/testapp.Pinned/default/send/", {"to": "qa@example.com"})
    (sent,) = mailoutbox
    assert sent.recipients() == ["qa@example.com"]
    assert sent.message()["To"] == "qa@example.com" and sent.message()["Cc"] is None


def test_send_test_rejects_a_bad_address(client, debug, mailoutbox):
    response = client.post("/emails/testapp.Rich/default/send/", {"to": "nope"},
                           follow=True)
    assert mailoutbox == []
    assert "is not an email address" in response.content.decode()


def test_send_test_shows_errors_without_message_middleware(client, debug, mailoutbox):
    debug.MIDDLEWARE = [m for m in debug.MIDDLEWARE if "messages" not in m]
    response = client.post("/emails/testapp.Exploding/default/send/",
                           {"to": "qa@example.com"})
    assert response.status_code == 500
    assert "sample data exploded" in response.content.decode()
    assert mailoutbox == []


def test_send_test_reports_a_failing_preview(client, debug, mailoutbox):
    response = client.post("/emails/testapp.Exploding/default/send/",
                           {"to": "qa@example.com"}, follow=True)
    assert mailoutbox == []
    assert "Not sent: RuntimeError: sample data exploded" in response.content.decode()


def test_send_test_is_staff_only_outside_debug(client, settings, mailoutbox):
    settings.TXMAIL = {"PREVIEW_ENABLED": True, "PREVIEW_SPAM_SCORE": False}
    url = "/emails/testapp.Hello/default/send/"
    assert client.post(url, {"to": "qa@example.com"}).status_code == 404
    # Without a CSRF token too: a 403 would reveal that the URL exists.
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url, {"to": "qa@example.com"}).status_code == 404
    assert strict.post("/emails/sent/clear/").status_code == 404
    client.force_login(User.objects.create(username="boss", is_staff=True))
    assert client.post(url, {"to": "qa@example.com"}).status_code == 302
    assert [m.to for m in mailoutbox] == [["qa@example.com"]]


def test_attachment_filename_header_encodes_path_separators(client, debug, mailbox_path):
    # RFC 5987 leaves only attr-chars unencoded: "/" must be %2F. Clients that
    # ignore filename* get an ASCII fallback without separators or quotes.
    message = EmailMessage("Files", "See attached.", "shop@example.com", ["ann@example.com"])
    message.attach("../../etc/passwd", b"root:x:0:0", "text/plain")
    message.attach('naïve "résumé".pdf', PDF, "application/pdf")
    entry = Mailbox(mailbox_path).add(message.message().as_bytes(), {"subject": "Files"})
    passwd, resume = (client.get(f"/emails/sent/{entry.id}/parts/{i}/") for i in (0, 1))
    assert (passwd.content, resume.content) == (b"root:x:0:0\n", PDF)
    assert passwd["Content-Disposition"] == (
        "attachment; filename=\"_.._etc_passwd\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"
    )
    assert resume["Content-Disposition"] == (
        "attachment; filename=\"na_ve _r_sum__.pdf\"; "
        "filename*=UTF-8''na%C3%AFve%20%22r%C3%A9sum%C3%A9%22.pdf"
    )


def test_download_filename_fallback_is_never_empty():
    for name, expected in [("", "download"), ("...", "download"), ("/", "_"),
                           ("a\r\nb.txt", "a__b.txt"), ("C:\\x\\y.txt", "C:_x_y.txt")]:
        header = content_disposition(name)
        assert header.startswith(f'attachment; filename="{expected}"; '), (name, header)


def test_an_attached_email_is_one_downloadable_file():
    from tests.testapp.emails import Hello
    from txmail import Attachment
    from txmail.preview.display import describe_parts, part_download

    inner = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
    msg = Hello(attachments=[Attachment("fwd.eml", inner, "message/rfc822")]).message().message()
    # walk() would go into it and list the attached email's body instead.
    assert [(p.filename, p.content_type) for p in describe_parts(msg)] == [
        ("fwd.eml", "message/rfc822")]
    filename, _type, content = part_download(msg, 0)
    assert filename == "fwd.eml" and b"Subject: hi" in content
