"""txmail's pytest plugin: the ``sent_mail`` fixture.

Registered through the ``pytest11`` entry point, so it is active wherever
txmail is installed. Nothing is imported from Django or txmail until a test
asks for the fixture: a project's other test sessions don't pay for it.

The fixture is ``sent_mail``, not ``mail``: a fixture of a project's own
conftest silently wins over a plugin's of the same name, and ``mail`` is a
common one; ``txmail`` would shadow the package inside the test.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from txmail.testing import MailRecorder


@pytest.fixture
def sent_mail() -> Iterator["MailRecorder"]:
    """Record the txmail messages this test sends; assert on them by class and fields."""
    from txmail.testing.recorder import MailRecorder

    with MailRecorder() as recorder:
        yield recorder
