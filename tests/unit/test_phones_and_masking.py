import pytest

from callcenter.errors import InvalidPhoneNumber
from callcenter.services.masking import mask_identifiers, mask_phone
from callcenter.services.phones import to_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_numbers_become_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "123", "abc", "+86 1", "1380013800"])
def test_bad_numbers_say_why(raw):
    with pytest.raises(InvalidPhoneNumber) as info:
        to_e164(raw, "CN")
    assert info.value.error_id == "invalid-phone-number"
    assert info.value.message


def test_phone_masking_keeps_country_and_last_four():
    assert mask_phone("+8613800138000") == "+86138****8000"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone(None) == ""


def test_transcript_masking_hides_phones_and_id_numbers():
    text = "我的电话是13800138000，身份证号110101199003071234，卡号M0001，血压135/85"
    masked = mask_identifiers(text)
    assert "13800138000" not in masked and "8000" in masked
    assert "110101199003071234" not in masked and "110101********1234" in masked
    assert "135/85" in masked and "M0001" in masked
    assert (
        mask_identifiers("call me at +1 415 555 2671 please") == "call me at +* *** *** 2671 please"
    )


def test_only_qa_reads_transcripts_masked():
    from callcenter.models import Role, User
    from callcenter.services.authz import masks_identifiers

    assert masks_identifiers(User(role=Role.QA))
    for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
        assert not masks_identifiers(User(role=role))
