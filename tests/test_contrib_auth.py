"""txmail.contrib.auth: PasswordReset(user).send() and Django's reset flow."""

import logging
import re
import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from tests.smtp import SMTPServer
from txmail import MessageConfigurationError
from txmail.contrib.auth import PasswordReset
from txmail.contrib.auth.forms import PasswordResetForm
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.smtp

SITE = {"SITE_URL": "https://shop.example.com"}
LINK = re.compile(r"https://shop\.example\.com(/accounts/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def user():
    return get_user_model().objects.create_user(
        "ada", "ada@example.com", "old-passphrase", first_name="Ada")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a block's commit would run (the queued message's task), as it ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def follow_reset_link(link, new_password="a-new-passphrase-42"):
    """Open the emailed link and set a new password, as a browser would."""
    client = Client()
    response = client.get(link)
    # PasswordResetConfirmView swaps the token for a session and redirects.
    assert response.status_code == 302, response
    assert response.url.endswith("/set-password/")
    response = client.post(response.url, {
        "new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302 and response.url == "/accounts/reset/done/"


@override_settings(TXMAIL=SITE)
def test_send_reaches_smtp_with_a_link_that_resets_the_password(smtp_server, user):
    with override_settings(MAILERS={"default": smtp_server.mailer()}):
        PasswordReset(user).send()
    [received] = smtp_server.received
    msg = received.message
    assert received.rcpt_tos == ["ada@example.com"]
    assert msg["Subject"] == "Password reset on shop.example.com"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    [path] = LINK.findall(text)
    assert f'href="https://shop.example.com{path}"' in html
    assert "In case you\N{RIGHT SINGLE QUOTATION MARK}ve forgotten, you are: ada" in text

    follow_reset_link(path)
    user.refresh_from_db()
    assert user.check_password("a-new-passphrase-42")
    # The link is single-use: the token dies with the old password.
    assert Client().get(path).context["validlink"] is False


def test_reset_form_sends_through_the_view_and_the_link_works(smtp_server, user, committed):
    with override_settings(MAILERS={"default": smtp_server.mailer()}), committed():
        response = Client().post("/accounts/password_reset/", {"email": "ADA@example.com"})
    assert response.status_code == 302 and response.url == "/accounts/password_reset/done/"
    [received] = smtp_server.received
    text = received.message.get_body(("plain",)).get_content()
    # No SITE_URL and no django.contrib.sites: the request's host, as Django does.
    assert "account at testserver." in text
    [path] = re.findall(r"http://testserver(/accounts/reset/\S+/)", text)
    follow_reset_link(path)
    user.refresh_from_db()
    assert user.check_password("a-new-passphrase-42")


@override_settings(TXMAIL=SITE)
def test_reset_form_uses_the_configured_site_url(smtp_server, user, committed):
    with override_settings(MAILERS={"default": smtp_server.mailer()}), committed():
        Client().post("/accounts/password_reset/", {"email": "ada@example.com"})
    [received] = smtp_server.received
    assert LINK.search(received.message.get_body(("plain",)).get_content())


def test_unknown_address_reveals_nothing(smtp_server, user, committed):
    client = Client()
    with override_settings(MAILERS={"default": smtp_server.mailer()}), committed():
        known = client.post("/accounts/password_reset/", {"email": "ada@example.com"})
        unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert (unknown.status_code, unknown.url) == (known.status_code, known.url)
    assert len(smtp_server.received) == 1


class BusyRelay(SMTPServer):
    """Started at once, but answers MAIL with 421 (going down) until ``busy`` is cleared."""

    def __init__(self):
        super().__init__()
        self.busy = True

        async def handle_mail(server, session, envelope, address, mail_options):
            if self.busy:
                return "421 4.3.2 Service shutting down, try again later"
            envelope.mail_from = address
            return "250 OK"

        self.handler.handle_MAIL = handle_mail
        self.start()

    def come_back(self):
        self.busy = False


class RefusingRelay(SMTPServer):
    """Its port, nothing listening until ``come_back()``: connection refused."""

    def come_back(self):
        self.start()


@pytest.mark.parametrize("relay_kind", [RefusingRelay, BusyRelay])
def test_a_relay_down_when_the_form_is_posted_delays_the_reset_mail_not_loses_it(
        user, committed, relay_kind):
    relay = relay_kind()
    try:
        # RETRY_DELAY 1: the retry is due within 1.5 s (±50 % jitter), not 30 s.
        with override_settings(MAILERS={"default": relay.mailer()},
                               TXMAIL={"RETRY_DELAY": 1}):
            with committed():
                response = Client().post("/accounts/password_reset/",
                                         {"email": "ada@example.com"})
            assert (response.status_code, response.url) == (
                302, "/accounts/password_reset/done/")
            # The task ran when the request committed and met the relay down.
            row = Delivery.objects.get()
            assert (row.status, row.attempts, row.recipients) == (
                Status.RETRYING, 1, ["ada@example.com"])
            assert "mailer 'default'" in row.last_error
            relay.come_back()
            time.sleep(max(0, (row.next_attempt_at - timezone.now()).total_seconds()) + 0.05)
            with committed():
                call_command("txmail", "sweep", stdout=StringIO())  # what cron runs
            with committed():
                call_command("txmail", "sweep", stdout=StringIO())  # nothing more to do
    finally:
        relay.stop()
    [received] = relay.received
    assert received.rcpt_tos == ["ada@example.com"]
    [path] = re.findall(r"http://testserver(/accounts/reset/\S+/)",
                        received.message.get_body(("plain",)).get_content())
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    follow_reset_link(path)
    user.refresh_from_db()
    assert user.check_password("a-new-passphrase-42")


class BrokenReset(PasswordReset):
    template_name = "testapp/emails/does_not_exist"


class BrokenResetForm(PasswordResetForm):
    message_class = BrokenReset


def test_a_message_that_cannot_be_queued_is_logged_not_shown(user, caplog, rf):
    from django.contrib.auth.views import PasswordResetView

    view = PasswordResetView.as_view(form_class=BrokenResetForm,
                                     success_url="/accounts/password_reset/done/")
    request = rf.post("/accounts/password_reset/", {"email": "ada@example.com"})
    request.session, request._dont_enforce_csrf_checks = {}, True
    with caplog.at_level(logging.ERROR):
        response = view(request)
    assert response.status_code == 302 and response.url == "/accounts/password_reset/done/"
    [record] = caplog.records
    assert record.name == "txmail.contrib.auth"
    assert record.getMessage() == f"Failed to queue password reset email to {user.pk}"
    assert Delivery.objects.count() == 0


def test_subclass_sets_template_and_mailer_only(user):
    class ShopReset(PasswordReset):
        template_name = "testapp/emails/hello"
        mailer = "transactional"

    with override_settings(TXMAIL=SITE):
        ShopReset(user, context={"name": "Ada"}).send()
    [email] = mail.outbox
    assert (email.sent_using, email.to) == ("transactional", ["ada@example.com"])


def test_without_a_base_url_the_error_names_the_setting(user):
    with pytest.raises(MessageConfigurationError) as caught:
        PasswordReset(user).render()
    assert str(caught.value) == (
        "txmail can't make URLs in emails absolute: no base URL is configured. Set "
        "TXMAIL['SITE_URL'] = 'https://your.domain' (or install django.contrib.sites).")


@override_settings(TXMAIL=SITE)
def test_rendered_in_french_with_djangos_translations(user):
    rendered = PasswordReset(user, language="fr").render()
    assert rendered.subject == "Réinitialisation du mot de passe sur shop.example.com"
    assert rendered.fallback_reason is None


@override_settings(TXMAIL=SITE)
def test_a_preview_for_a_real_user_never_carries_a_working_reset_link():
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    text = PasswordReset.preview(user=str(admin.pk)).render().text
    [path] = LINK.findall(text)
    assert path.endswith("/preview-token-not-valid/")
    assert Client().get(path).context["validlink"] is False
    admin.refresh_from_db()
    assert admin.check_password("pw-123456")


# A URLconf without django.contrib.auth.urls (this module's own, for the test below).
urlpatterns: list = []


@override_settings(TXMAIL=SITE, ROOT_URLCONF=__name__)
def test_without_the_confirm_url_the_error_names_the_include(user):
    with pytest.raises(MessageConfigurationError) as caught:
        PasswordReset(user).render()
    assert str(caught.value) == (
        "PasswordReset links to the URL named 'password_reset_confirm' (with uidb64 and "
        "token), which the URLconf doesn't have. Add path('accounts/', "
        "include('django.contrib.auth.urls')) to your URLconf, or set reset_url_name to the "
        "name of your PasswordResetConfirmView's URL.")
