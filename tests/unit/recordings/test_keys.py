"""Parsing RECORDING_KEYS / RECORDING_KEY_ID into a keyring."""

from __future__ import annotations

import base64

import pytest

from recordings.keys import Keyring, KeySettingError, UnknownKeyId, new_key_entry

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(32, 64))).decode()


def test_parses_several_keys_and_defaults_to_the_last():
    ring = Keyring.from_setting(f"old:{KEY_A}, new:{KEY_B}")
    assert ring.active_id == "new"
    assert ring.active_key == bytes(range(32, 64))
    assert ring.key("old") == bytes(range(32))


def test_active_id_picks_an_older_key():
    ring = Keyring.from_setting(f"old:{KEY_A},new:{KEY_B}", active="old")
    assert ring.active_key == bytes(range(32))


def test_url_safe_base64_is_accepted():
    raw = bytes([0xFB, 0xFF] * 16)  # encodes with '+' and '/' in standard base64
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert "-" in urlsafe or "_" in urlsafe
    assert Keyring.from_setting(f"k:{urlsafe}").active_key == raw


@pytest.mark.parametrize(
    ("setting", "active", "message"),
    [
        ("", "", "RECORDING_KEYS is empty"),
        ("   ", "", "RECORDING_KEYS is empty"),
        ("k1", "", "entry 1 has no ':'"),
        (f"k1:{KEY_A},", "", "entry 2 is empty"),
        ("k1:not base64!!", "", "entry 1 (id 'k1'): the key is not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "", "decodes to 5 bytes"),
        (f"k1:{base64.b64encode(bytes(33)).decode()}", "", "decodes to 33 bytes"),
        (f"k1:{KEY_A},k1:{KEY_B}", "", "entry 2: key id 'k1' is listed twice"),
        (f"bad id:{KEY_A}", "", "key id 'bad id' must be"),
        (f":{KEY_A}", "", "key id '' must be"),
        (f"k1:{KEY_A}", "k2", "RECORDING_KEY_ID 'k2' is not one of the ids"),
    ],
)
def test_bad_settings_say_what_and_where(setting, active, message):
    with pytest.raises(KeySettingError) as caught:
        Keyring.from_setting(setting, active)
    assert message in str(caught.value)
    assert KEY_B not in str(caught.value)  # key material never ends up in logs


def test_unknown_key_id_names_it_and_the_known_ones():
    ring = Keyring.from_setting(f"k1:{KEY_A},k2:{KEY_B}")
    with pytest.raises(UnknownKeyId) as caught:
        ring.key("2019")
    assert "'2019'" in str(caught.value)
    assert "k1, k2" in str(caught.value)
    assert caught.value.key_id == "2019"


def test_new_key_entry_parses_back_and_is_random():
    first, second = new_key_entry("r1"), new_key_entry("r2")
    ring = Keyring.from_setting(f"{first},{second}")
    assert len(ring.key("r1")) == 32
    assert ring.key("r1") != ring.key("r2")
    with pytest.raises(KeySettingError):
        new_key_entry("has:colon")


def test_repr_hides_keys():
    assert KEY_A not in repr(Keyring.from_setting(f"k1:{KEY_A}"))
    assert repr(bytes(range(32))) not in repr(Keyring.from_setting(f"k1:{KEY_A}"))
