"""The setup mistakes of bounces by mail and DKIM, each reported with its fix."""

import builtins
import subprocess
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.test import override_settings

from txmail.checks.bounces import check_bounces, check_dkim


def pem(bits: int) -> str:
    if bits < 1024:  # cryptography refuses to make one; OpenSSL still does
        return subprocess.run(["openssl", "genrsa", str(bits)], capture_output=True,
                              check=True, text=True).stdout
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def found(check, **txmail):
    with override_settings(TXMAIL=txmail):
        return [(m.id, m.msg) for m in check()]


def test_a_good_bounces_setting_has_no_problem():
    assert found(check_bounces, BOUNCES={"RETURN_PATH": "b+{token}@bounces.example.com",
                                         "SOFT_BOUNCE_LIMIT": 5,
                                         "SOFT_BOUNCE_WINDOW": 2.5 * 86400}) == []
    assert found(check_bounces) == []


@pytest.mark.parametrize(("value", "said"), [
    ({"SOFT_BOUNCE_LIMIT": 3}, "TXMAIL['BOUNCES'] has no 'RETURN_PATH': messages go out from "
                               "their From address"),
    ({"RETURN_PATH": "bounces@example.com"}, "must have '{token}' once"),
    ({"RETURN_PATH": "bounces+{token}@localhost"}, "has no valid domain after '@'"),
    ({"RETURN_PATH": "b+{token}@x.example.com", "SOFT_BOUNCE_LIMIT": "3"},
     "'SOFT_BOUNCE_LIMIT'] must be a positive integer, not '3'"),
    ({"RETURN_PATH": "b+{token}@x.example.com", "DOMAIN": "x"}, "unknown key 'DOMAIN'"),
    ({"RETURN_PATH": "b+{token}@x.example.com", "SOFT_BOUNCE_WINDOW": 0},
     "TXMAIL['BOUNCES']['SOFT_BOUNCE_WINDOW'] must be a positive number of seconds, not 0, "
     "e.g. 7 * 86400 (a week). Fix it in settings.TXMAIL."),
    ({"RETURN_PATH": "b+{token}@x.example.com", "SOFT_BOUNCE_WINDOW": "7 days"},
     "'SOFT_BOUNCE_WINDOW'] must be a positive number of seconds, not '7 days'"),
    ({"RETURN_PATH": "b+{token}@x.example.com", "SOFT_BOUNCE_WINDOW": None},
     "'SOFT_BOUNCE_WINDOW'] must be a positive number of seconds, not None"),
])
def test_a_bounces_mistake_is_e120(value, said):
    [(id, message)] = found(check_bounces, BOUNCES=value)
    assert id == "txmail.E120" and said in message


def test_dkim_keys_are_loaded_and_measured(tmp_path):
    assert found(check_dkim, DKIM={"example.com": {"selector": "s1", "key": pem(2048)}}) == []
    [(id, message)] = found(check_dkim, DKIM={"example.com": {"selector": "s1",
                                                               "key": pem(1024)}})
    assert id == "txmail.W121"
    assert "has 1024 bits; 2048 are recommended" in message
    assert ("2048 are recommended (RFC 8301). Generate a 2048-bit key under a new selector "
            "(openssl genrsa -out s2.pem 2048), publish its record (`manage.py txmail dkim` "
            "prints it), then sign with it. Until then, publish this key's record in DNS: "
            's1._domainkey.example.com TXT "v=DKIM1; k=rsa; p=') in message
    [(id, message)] = found(check_dkim, DKIM={"example.com": {"selector": "s1",
                                                               "key": pem(512)}})
    assert id == "txmail.E122" and "has 512 bits" in message
    missing = str(tmp_path / "nope.pem")
    [(id, message)] = found(check_dkim, DKIM={"example.com": {"selector": "s1",
                                                               "key": missing}})
    assert id == "txmail.E121" and f"can't read {missing!r}" in message


def test_dkim_without_dkimpy_is_e123(monkeypatch):
    real_import = builtins.__import__

    def no_dkim(name, *args, **kwargs):
        if name == "dkim" or name.startswith("dkim."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dkim)
    [(id, message)] = found(check_dkim, DKIM={"example.com": {"selector": "s1", "key": "x"}})
    assert id == "txmail.E123"
    assert 'pip install "txmail[dkim]"' in message


def test_the_command_prints_each_record():
    out = StringIO()
    with override_settings(TXMAIL={"DKIM": {"example.com": {"selector": "s1",
                                                            "key": pem(2048)}}}):
        call_command("txmail", "dkim", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "; example.com: 2048-bit RSA key, selector s1"
    assert lines[1].startswith('s1._domainkey.example.com TXT "v=DKIM1; k=rsa; p=MIIBIjAN')
    with pytest.raises(CommandError, match="TXMAIL\\['DKIM'\\] is empty"):
        call_command("txmail", "dkim")
