"""``txmail.testing.assert_clean``: a message's quality findings, asserted."""

import pytest

from tests.testapp.quality_emails import Columns, Flexbox, registered
from txmail.testing import assert_clean, findings_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quality_classes():
    with registered():
        yield


def test_an_error_fails_with_each_finding_named():
    with pytest.raises(AssertionError) as raised:
        assert_clean(Flexbox)
    assert str(raised.value) == (
        "1 finding at error or worse (pass ignore=('code',) to accept one):\n"
        "  testapp.Flexbox (default): error relative-url: Relative URL /account/ in "
        '<a href>. [in line 10: <a href="/account/">]')


def test_severity_clients_and_ignore():
    with pytest.raises(AssertionError, match="warning css-unsupported: display:flex"):
        assert_clean(Flexbox, "warning", ignore=("relative-url",))
    assert_clean(Flexbox, "warning", clients=("apple-mail",),
                 ignore=("relative-url", "css-unsupported"))
    assert_clean(Columns, "warning")


def test_an_instance_is_checked_as_it_renders():
    instance = Flexbox(to=["bob@example.com"], context={"name": "Bob"})
    with pytest.raises(AssertionError, match=r"testapp.Flexbox \(instance\): error relative-url"):
        assert_clean(instance)


def test_the_plugin_offers_it_as_a_fixture(assert_clean):
    assert_clean(Columns, "warning")
    with pytest.raises(AssertionError):
        assert_clean(Flexbox)


def test_the_spam_check_runs_unless_skipped():
    [found] = findings_of(Columns).values()
    assert "spam-score" in [f.code for f in found]
    [found] = findings_of(Columns, skip=("spam",)).values()
    assert "spam-score" not in [f.code for f in found]
