"""One canonical spelling of an email address, for comparing and storing.

``Ann <ann@Bücher.example>``, ``ann@bücher.example`` and
``ann@xn--bcher-kva.example`` are one mailbox: a header carries the IDNA
(punycode) domain where an envelope or a webhook may carry the Unicode one.
The suppression list stores this form and looks addresses up in it; a stored
email matches its header to its envelope in it.
"""

import re
from email.utils import getaddresses

# A bare ASCII addr-spec of dot-atoms, nothing to parse: most addresses a worker
# sees. Its canonical form is the address lowercased (an ASCII domain is its own
# IDNA form); Django's SMTP backend would send it as it is.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def canonical(address: str) -> str:
    """``address``'s addr-spec, lowercased, with an ASCII (IDNA) domain."""
    if PLAIN.fullmatch(address):
        return address.lower()
    parsed = getaddresses([address])
    addr_spec = parsed[0][1] if parsed and parsed[0][1] else address
    local, at, domain = addr_spec.strip().rpartition("@")
    if not at:
        return addr_spec.strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # not a name IDNA can encode (an address literal, say): as it is
    return f"{local}{at}{domain}".lower()
