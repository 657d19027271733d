"""txmail's pytest plugin: the ``sent_mail`` and ``assert_clean`` fixtures, strict variables.

Registered through the ``pytest11`` entry point, so it is active wherever
txmail is installed. Nothing is imported from Django or txmail until a test
asks for the fixture (or, for strict variables, until the test session has
imported txmail itself): a project's other test sessions don't pay for it.

The fixture is ``sent_mail``, not ``mail``: a fixture of a project's own
conftest silently wins over a plugin's of the same name, and ``mail`` is a
common one; ``txmail`` would shadow the package inside the test.

Strict variables: in every test, a message whose templates output a variable
that doesn't exist (``{{ usr.first_name }}``) raises ``txmail.UndefinedVariable``
when it is rendered, so the test fails instead of sending "Welcome, !". Opt out
for one test (or module, with ``pytestmark``) with
``@pytest.mark.txmail_allow_undefined``, or for the project with
``txmail_strict_variables = false`` in the pytest ini options.
"""

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from txmail.testing import MailRecorder

ALLOW_MARKER = "txmail_allow_undefined"
STRICT_INI = "txmail_strict_variables"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(STRICT_INI, type="bool", default=True,
                  help="txmail: fail a test whose messages output undefined template "
                  "variables (default: true).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ALLOW_MARKER}: let this test's txmail messages output undefined "
        "template variables (rendered as nothing) without failing.")


@pytest.fixture
def sent_mail() -> Iterator["MailRecorder"]:
    """Record the txmail messages this test sends; assert on them by class and fields."""
    from txmail.testing.recorder import MailRecorder

    with MailRecorder() as recorder:
        yield recorder


@pytest.fixture
def assert_clean() -> "Callable[..., None]":
    """``txmail.testing.assert_clean``: fail on quality findings at a severity."""
    from txmail.testing.quality import assert_clean

    return assert_clean


@pytest.fixture(autouse=True)
def _txmail_strict_variables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Make rendering raise ``UndefinedVariable`` during the test, unless opted out."""
    if "txmail" not in sys.modules:  # Django hasn't loaded txmail: nothing renders
        yield
        return
    from txmail.rendering.variables import strict

    enabled = (request.config.getini(STRICT_INI)
               and request.node.get_closest_marker(ALLOW_MARKER) is None)
    with strict(bool(enabled)):
        yield
