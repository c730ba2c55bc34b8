"""GB 11643 numbers: real test vectors, each failure kind, legacy conversion, masking."""

from __future__ import annotations

import datetime as dt

import pytest

from simkyc.core.documents import IdNumber, check_character, default_regions, mask_id_number, to_18
from simkyc.errors import DocumentError, Reason

TODAY = dt.date(2026, 11, 22)


def iso7064_ok(number: str) -> bool:
    """Independent check: ISO 7064 MOD 11-2 holds when sum(a_i * 2^(18-i)) = 1 (mod 11), X = 10."""
    values = [10 if c == "X" else int(c) for c in number]
    return sum(v * pow(2, 17 - i) for i, v in enumerate(values)) % 11 == 1


def make(first17: str) -> str:
    """Complete 17 digits with the check character found by the independent rule."""
    return next(first17 + c for c in "0123456789X" if iso7064_ok(first17 + c))


def test_standard_example_with_x_check_character() -> None:
    n = IdNumber.parse("11010519491231002X", today=TODAY)
    assert iso7064_ok("11010519491231002X")
    assert n.birth_date == dt.date(1949, 12, 31)
    assert n.sex == "F"  # sequence 002 is even
    assert n.region.code == "110105" and "朝阳" in n.region.name and not n.region.retired
    assert n.masked == "110105********002X"


def test_check_character_matches_independent_rule_on_many_numbers() -> None:
    for seq in range(0, 1000, 37):
        first17 = f"44030419850612{seq:03d}"
        assert first17 + check_character(first17) == make(first17)


def test_lower_case_x_full_width_and_spaces_are_normalised() -> None:
    assert IdNumber.parse("110105 19491231 002x", today=TODAY).value == "11010519491231002X"
    assert IdNumber.parse("１１０１０５１９４９１２３１００２Ｘ", today=TODAY).value == "11010519491231002X"


def test_male_sequence() -> None:
    number = make("44030419850612001")
    assert IdNumber.parse(number, today=TODAY).sex == "M"


@pytest.mark.parametrize(
    "text", ["", "1101051949123100", "11010519491231002", "1101051949123100XX", "A1010519491231002X"]
)
def test_bad_format(text: str) -> None:
    with pytest.raises(DocumentError) as err:
        IdNumber.parse(text, today=TODAY)
    assert err.value.reason == Reason.ID_NUMBER_FORMAT


def test_wrong_check_character() -> None:
    good = make("44030419850612001")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(DocumentError) as err:
        IdNumber.parse(bad, today=TODAY)
    assert err.value.reason == Reason.ID_NUMBER_CHECKSUM
    assert bad not in str(err.value)  # never the full number in a message


def test_feb_29_valid_in_leap_years_only() -> None:
    assert IdNumber.parse(make("11010520000229001"), today=TODAY).birth_date == dt.date(2000, 2, 29)
    assert IdNumber.parse(make("11010519960229001"), today=TODAY).birth_date == dt.date(1996, 2, 29)
    for first17 in ("11010519000229001", "11010520230229001", "11010519990229001"):  # 1900 is not leap
        with pytest.raises(DocumentError) as err:
            IdNumber.parse(make(first17), today=TODAY)
        assert err.value.reason == Reason.ID_NUMBER_BIRTH_DATE


def test_impossible_and_future_birth_dates() -> None:
    for first17 in ("11010519491332001", "11010519491200001", "11010520261123001", "11010530000101001"):
        with pytest.raises(DocumentError) as err:
            IdNumber.parse(make(first17), today=TODAY)
        assert err.value.reason == Reason.ID_NUMBER_BIRTH_DATE
    # Born today is not in the future.
    assert IdNumber.parse(make("11010520261122001"), today=TODAY).age_on(TODAY) == 0


def test_retired_region_codes_still_validate() -> None:
    # 110103 Chongwen and 110104 Xuanwu (Beijing) were merged away in 2010; 320811 Qinghe (Huai'an) in 2016.
    for code in ("110103", "110104", "320811"):
        n = IdNumber.parse(make(f"{code}19800101001"), today=TODAY)
        assert n.region.retired, code
    assert IdNumber.parse(make("11010319800101001"), today=TODAY).region.name == "崇文区"


def test_unknown_region_code() -> None:
    for code in ("990101", "110199", "000000"):
        with pytest.raises(DocumentError) as err:
            IdNumber.parse(make(f"{code}19800101001"), today=TODAY)
        assert err.value.reason == Reason.ID_NUMBER_REGION


def test_codes_created_after_2019_are_known() -> None:
    # 330113 Linping and 330114 Qiantang districts (Hangzhou) were created in 2021.
    for code in ("330113", "330114"):
        assert not IdNumber.parse(make(f"{code}19900101002"), today=TODAY).region.retired


def test_fifteen_digit_conversion() -> None:
    assert to_18("110105491231002") == "11010519491231002X"
    n = IdNumber.parse("110105491231002", today=TODAY)
    assert n.converted_from_15 and n.value == "11010519491231002X"
    with pytest.raises(DocumentError) as err:
        IdNumber.parse("110105491331002", today=TODAY)  # month 13
    assert err.value.reason == Reason.ID_NUMBER_BIRTH_DATE


def test_masking_never_reveals_the_middle() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("1234") == "****"
    assert "19491231" not in repr(IdNumber.parse("11010519491231002X", today=TODAY))
    assert str(IdNumber.parse("11010519491231002X", today=TODAY)) == "110105********002X"


def test_age_with_leap_day_birthday() -> None:
    n = IdNumber.parse(make("11010520000229001"), today=TODAY)
    assert n.age_on(dt.date(2018, 2, 28)) == 17
    assert n.age_on(dt.date(2018, 3, 1)) == 18


def test_region_table_states_its_source() -> None:
    table = default_regions()
    assert "gb2260" in table.source.lower() and table.generated
    assert len(table) > 6000
