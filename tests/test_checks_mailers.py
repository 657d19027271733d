"""System checks of settings.MAILERS (txmail.E020-E029): mistakes found before mail is queued.

Each builds nothing but the mailers (no connection is opened) and names the
alias and the fix.
"""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from txmail.checks import check_mailers

SMTP = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": 9}}
FAILOVER = "txmail.backends.failover.EmailBackend"
ROUND_ROBIN = "txmail.backends.roundrobin.EmailBackend"


def found(**mailers):
    with override_settings(MAILERS=mailers):
        return [(e.id, e.obj, e.msg) for e in check_mailers()]


def spread(*aliases, backend=FAILOVER, **options):
    return {"BACKEND": backend, "OPTIONS": {"mailers": list(aliases), **options}}


def test_good_mailers_pass():
    own_smtp = {**SMTP, "BACKEND": "txmail.backends.smtp.EmailBackend"}
    assert found(default=SMTP, backup=SMTP, other=own_smtp,
                 fo=spread("default", "backup", cooldown=0.5),
                 rr=spread("fo", "other", backend=ROUND_ROBIN, cache="default"),
                 box={"BACKEND": "txmail.backends.mailbox.MailboxBackend"}) == []


@pytest.mark.parametrize("backend", [FAILOVER, ROUND_ROBIN])
def test_a_mailer_listing_itself(backend):
    assert found(default=SMTP, fo=spread("default", "fo", backend=backend)) == [(
        "txmail.E023", "settings.MAILERS['fo']",
        "MAILERS['fo']: OPTIONS 'mailers' names this mailer itself ('fo'), so it would fall "
        "over to itself: remove 'fo' from the list.")]


def test_mailers_given_as_a_string():
    assert found(a=SMTP, b=SMTP, fo={"BACKEND": FAILOVER, "OPTIONS": {"mailers": "a, b"}}) == [(
        "txmail.E022", "settings.MAILERS['fo']",
        "MAILERS['fo']: OPTIONS 'mailers' must be a list of MAILERS aliases, not the string "
        "'a, b': write {'mailers': ['a', 'b']}.")]


@pytest.mark.parametrize("backend", [FAILOVER, ROUND_ROBIN])
@pytest.mark.parametrize("options", [{}, {"mailers": []}])
def test_an_empty_list(backend, options):
    assert found(fo={"BACKEND": backend, "OPTIONS": options}) == [(
        "txmail.E022", "settings.MAILERS['fo']",
        "MAILERS['fo']: OPTIONS 'mailers' is missing or empty: list the MAILERS aliases to "
        "try, e.g. {'mailers': ['ses', 'sendgrid']}.")]


def test_mailers_naming_unknown_aliases():
    assert found(ses=SMTP, sendgrid=SMTP, fo=spread("sess", "ses", "postmark")) == [
        ("txmail.E024", "settings.MAILERS['fo']",
         "MAILERS['fo']: OPTIONS 'mailers' names 'sess', which MAILERS does not define (it "
         "has 'ses', 'sendgrid', 'fo'). Did you mean 'ses'? Fix the name, or add 'sess' to "
         "MAILERS."),
        ("txmail.E024", "settings.MAILERS['fo']",
         "MAILERS['fo']: OPTIONS 'mailers' names 'postmark', which MAILERS does not define "
         "(it has 'ses', 'sendgrid', 'fo'). Fix the name, or add 'postmark' to MAILERS."),
    ]


def test_a_loop_of_two():
    assert found(a=spread("b"), b=spread("a", backend=ROUND_ROBIN)) == [(
        "txmail.E025", "settings.MAILERS['a']",
        "MAILERS 'a' → 'b' → 'a' loop: each falls over to the next, so a message sent "
        "through 'a' could go round instead of reaching a mailer that sends. Remove 'a' "
        "from MAILERS['b']['OPTIONS']['mailers'], so that every list ends at mailers that "
        "send (SMTP or a provider).")]


def test_a_longer_loop_through_failover_and_round_robin_is_reported_once():
    errors = found(smtp=SMTP, entry=spread("a"), a=spread("smtp", "b"),
                   b=spread("c", backend=ROUND_ROBIN), c=spread("smtp", "a"))
    assert [(e_id, obj) for e_id, obj, _msg in errors] == [
        ("txmail.E025", "settings.MAILERS['a']")]
    assert errors[0][2].startswith("MAILERS 'a' → 'b' → 'c' → 'a' loop: ")
    assert "Remove 'a' from MAILERS['c']['OPTIONS']['mailers']" in errors[0][2]


@pytest.mark.parametrize("cooldown", ["sixty", -1, True, None])
def test_a_cooldown_that_is_not_a_number_of_seconds(cooldown):
    assert found(default=SMTP, fo=spread("default", cooldown=cooldown)) == [(
        "txmail.E026", "settings.MAILERS['fo']",
        "MAILERS['fo']: OPTIONS 'cooldown' must be a number of seconds, 0 or more (0: try a "
        f"failed mailer again at once), not {cooldown!r}. Write e.g. {{'cooldown': 60}}.")]


def test_a_cache_that_caches_does_not_define():
    assert found(default=SMTP, fo=spread("default", cache="txmail")) == [(
        "txmail.E027", "settings.MAILERS['fo']",
        "MAILERS['fo']: OPTIONS 'cache' names 'txmail', which CACHES does not define (it has "
        "'default', 'shared'): a failed mailer's cooldown couldn't be stored. Use one of "
        "those aliases, or add it to CACHES.")]


def test_an_unknown_option_of_txmails_own_backends():
    assert found(default=SMTP, fo=spread("default", coldown=5),
                 box={"BACKEND": "txmail.backends.mailbox.MailboxBackend", "OPTIONS": {"pth": "x"}},
                 smtp={"BACKEND": "txmail.backends.smtp.EmailBackend",
                       "OPTIONS": {"host": "mx", "use_tsl": True}}) == [
        ("txmail.E021", "settings.MAILERS['fo']",
         "MAILERS['fo']: OPTIONS has an unknown key 'coldown', which "
         "txmail.backends.failover.EmailBackend does not take. Did you mean 'cooldown'? It "
         "takes: 'cache', 'cooldown', 'mailers'."),
        ("txmail.E021", "settings.MAILERS['box']",
         "MAILERS['box']: OPTIONS has an unknown key 'pth', which "
         "txmail.backends.mailbox.MailboxBackend does not take. Did you mean 'path'? It takes: "
         "'path', 'size'."),
        ("txmail.E021", "settings.MAILERS['smtp']",
         "MAILERS['smtp']: OPTIONS has an unknown key 'use_tsl', which "
         "txmail.backends.smtp.EmailBackend does not take. Did you mean 'use_tls'? It "
         "takes: 'host', 'password', 'port', 'ssl_certfile', 'ssl_keyfile', 'timeout', "
         "'use_ssl', 'use_tls', 'username'."),
    ]


@pytest.mark.parametrize("backend", ["django.core.mail.backends.smtp.EmailBackend",
                                     "txmail.backends.smtp.EmailBackend", None])
@pytest.mark.parametrize("options", [{}, {"port": 587}])
def test_smtp_without_a_host(backend, options):
    # Built from MAILERS, Django 6.1's SMTP backend has no default host: it
    # raises InvalidMailer("OPTIONS must define 'host'.") when mail is sent.
    config = {"OPTIONS": options} | ({"BACKEND": backend} if backend else {})
    assert found(default=config) == [(
        "txmail.E028", "settings.MAILERS['default']",
        "MAILERS['default']: the SMTP backend needs OPTIONS 'host' (MAILERS has no default "
        "host: EMAIL_HOST is not read), e.g. {'host': 'smtp.example.com', 'port': 587, "
        "'use_tls': True}.")]


@pytest.mark.parametrize("host", ["", "  ", None])
def test_smtp_with_an_empty_host(host):
    # An empty host builds, but smtplib never connects: every send fails.
    assert found(default={"OPTIONS": {"host": host}}) == [(
        "txmail.E028", "settings.MAILERS['default']",
        "MAILERS['default']: OPTIONS 'host' must name the SMTP server, e.g. {'host': "
        f"'smtp.example.com', 'port': 587, 'use_tls': True}}, not {host!r}.")]


def test_a_backend_path_that_does_not_import():
    errors = found(default={"BACKEND": "django.core.mail.backends.smpt.EmailBackend"},
                   other={"BACKEND": "acme.mail.Backend"})
    assert errors == [
        ("txmail.E020", "settings.MAILERS['default']",
         "MAILERS['default']: BACKEND 'django.core.mail.backends.smpt.EmailBackend' cannot "
         "be imported (ModuleNotFoundError: No module named 'django.core.mail.backends.smpt'"
         "). Did you mean 'django.core.mail.backends.smtp.EmailBackend'?"),
        ("txmail.E020", "settings.MAILERS['other']",
         "MAILERS['other']: BACKEND 'acme.mail.Backend' cannot be imported "
         "(ModuleNotFoundError: No module named 'acme'). Fix the dotted path, or install "
         "the package that provides it."),
    ]


def test_what_only_building_shows_is_reported_as_django_says_it():
    assert found(default={**SMTP, "OPTIONS": {"host": "mx", "use_ssl": True, "use_tls": True}},
                 anymail={"BACKEND": "anymail.backends.postmark.EmailBackend",
                          "OPTIONS": {"server_tokn": "x"}}) == [
        ("txmail.E029", "settings.MAILERS['default']",
         "MAILERS['default']: The 'use_ssl' and 'use_tls' OPTIONS are incompatible. Set at "
         "most one of them to True."),
        ("txmail.E029", "settings.MAILERS['anymail']",
         "MAILERS['anymail']: OPTIONS must define 'server_token'"),
    ]


def test_a_constructor_that_fails_is_reported_with_the_alias():
    assert found(default={"BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                          "OPTIONS": {"file_path": 42}}) == [(
        "txmail.E029", "settings.MAILERS['default']",
        "MAILERS['default']: building it raises TypeError: expected str, bytes or "
        "os.PathLike object, not int. Fix its BACKEND or OPTIONS: every message sent "
        "through it fails until then.")]


def test_an_entry_that_is_not_a_dict_is_reported_without_its_options():
    assert found(default={"OPTIONS": [("password", "s3cret")]}, other="smtp") == [
        ("txmail.E029", "settings.MAILERS['default']",
         "MAILERS['default']: must be a dict such as {'BACKEND': '...', 'OPTIONS': {...}}, "
         "with OPTIONS a dict, not a dict with OPTIONS a list."),
        ("txmail.E029", "settings.MAILERS['other']",
         "MAILERS['other']: must be a dict such as {'BACKEND': '...', 'OPTIONS': {...}}, "
         "with OPTIONS a dict, not str."),
    ]


def test_manage_py_check_stops_on_a_mailer_mistake():
    with override_settings(MAILERS={"default": SMTP, "fo": spread("default", "fo")}):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
        assert "txmail.E023" in str(caught.value)
        assert [e.id for e in checks.run_checks(tags=[checks.Tags.mail])
                if e.id.startswith("txmail")] == ["txmail.E023"]


def test_an_entry_copied_as_an_ellipsis_set_is_reported_with_the_shape():
    assert found(default=SMTP, transactional={...}) == [
        ("txmail.E029", "settings.MAILERS['transactional']",
         "MAILERS['transactional']: must be a dict such as {'BACKEND': '...', "
         "'OPTIONS': {...}}, with OPTIONS a dict, not set ({...} is a set holding "
         "Ellipsis: write the BACKEND and OPTIONS out)."),
    ]


@pytest.mark.parametrize("send", ["send", "enqueue"])
def test_sending_through_a_malformed_entry_names_it_and_logs_nothing(send):
    from tests.testapp.emails import Hello
    from txmail.delivery.models import Delivery
    from txmail.exceptions import MailerConfigurationError

    with override_settings(MAILERS={"default": SMTP, "transactional": {...}}):
        with pytest.raises(MailerConfigurationError) as caught:
            getattr(Hello(), send)()
    assert caught.value.alias == "transactional"
    assert str(caught.value).startswith(
        "mailer 'transactional' is not configured correctly: settings.MAILERS"
        "['transactional'] must be a dict such as {'BACKEND': '...', 'OPTIONS': {...}}")
    assert not Delivery.objects.exists()


def test_a_class_naming_a_misspelt_alias_is_offered_the_closest():
    from txmail import Message, registry
    from txmail.exceptions import UnknownMailer

    class Typo(Message):
        template_name = "testapp/emails/hello"
        subject = "Hi"
        mailer = "transactionl"

    registry.register(Typo)
    try:
        errors = [e for e in checks.run_checks(tags=[checks.Tags.compatibility])
                  if e.id == "txmail.E001"]
    finally:
        registry.unregister(Typo)
    assert [e.msg for e in errors] == [
        f"{registry.name_of(Typo)} sends through mailer 'transactionl', which "
        "settings.MAILERS does not define (it has 'default', 'transactional', "
        "'marketing'). Did you mean 'transactional'?"]
    with pytest.raises(UnknownMailer) as caught:
        Typo(to=["a@example.com"]).send()
    assert str(caught.value) == (
        "Typo: mailer 'transactionl' is not configured; settings.MAILERS has 'default', "
        "'transactional', 'marketing'. Did you mean 'transactional'? Add 'transactionl' "
        "to MAILERS or use one of those aliases.")


def test_a_misspelt_default_mailer_is_reported_once_with_the_closest():
    mailers = {"default": SMTP, "transactional": SMTP, "marketing": SMTP}
    with override_settings(MAILERS=mailers, TXMAIL={"DEFAULT_MAILER": "defualt"}):
        errors = [(e.obj, e.msg) for e in checks.run_checks(tags=[checks.Tags.compatibility])
                  if e.id == "txmail.E001"]
    assert errors == [("settings.TXMAIL",
                       "TXMAIL['DEFAULT_MAILER'] is 'defualt', which settings.MAILERS does "
                       "not define (it has 'default', 'transactional', 'marketing'). Did you "
                       "mean 'default'? Set it to one of those aliases, or add it to MAILERS.")]


def test_a_misspelt_task_backend_is_offered_the_closest():
    tasks = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
             "database": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with override_settings(TASKS=tasks, TXMAIL={"TASK_BACKEND": "databse"}):
        errors = [(e.obj, e.msg) for e in checks.run_checks() if e.id == "txmail.E007"]
    assert errors == [("settings.TXMAIL",
                       "TXMAIL['TASK_BACKEND'] is 'databse', which settings.TASKS does not "
                       "define (it has 'default', 'database'): enqueue() fails. Did you mean "
                       "'database'? Use one of those aliases, or add it to TASKS.")]
