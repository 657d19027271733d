"""Unsubscribe tokens that are signed but carry no address and topic get the invalid page.

Through the real URL with Django's test client: GET and the one-click POST.
"""

import pytest
from django.core import signing

from txmail.bulk.tokens import SALT, make_token
from txmail.suppression.models import Suppression

SIGNER = signing.Signer(salt=SALT)
SIGNED_BUT_BAD = {
    "not base64": SIGNER.sign("a"),
    "compressed, but not zlib": SIGNER.sign(".YWJj"),
    "base64, but not JSON": SIGNER.sign("bm90IGpzb24"),
    "an empty address": SIGNER.sign_object(["", "bulletin"], compress=True),
    "not an address": SIGNER.sign_object(["not an address", "bulletin"], compress=True),
    "an address and more": SIGNER.sign_object(["ann@example.com, bob@example.com", "bulletin"]),
}


def responses_to(client, token):
    url = f"/mail/unsubscribe/{token}/"
    return [client.get(url), client.post(url, "List-Unsubscribe=One-Click",
                                         content_type="application/x-www-form-urlencoded")]


@pytest.mark.parametrize("kind", SIGNED_BUT_BAD)
def test_a_signed_token_without_an_address_gets_the_invalid_page(client, kind):
    tampered = make_token("ann@example.com", "bulletin")[:-2] + "xx"
    [invalid, _] = responses_to(client, tampered)
    for response in responses_to(client, SIGNED_BUT_BAD[kind]):
        assert (response.status_code, response.content) == (400, invalid.content)
    assert not Suppression.objects.exists()
