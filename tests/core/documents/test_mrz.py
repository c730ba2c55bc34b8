"""ICAO 9303 MRZ: the specimen zones of Doc 9303, every check digit, and OCR-confusion repair."""

from __future__ import annotations

import datetime as dt

import pytest

from simkyc.core.documents import check_digit, mrz_to_document, parse_mrz, read_mrz, validate_document
from simkyc.errors import DocumentError, Reason

TODAY = dt.date(2026, 11, 22)
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


def test_check_digit_worked_example() -> None:
    # Doc 9303 Part 3, 4.9: "520727" -> 3; a '<' counts as 0; letters A=10 ... Z=35.
    assert check_digit("520727") == "3"
    assert check_digit("L898902C3") == "6"
    assert check_digit("AB2134<<<") == "5"


@pytest.mark.parametrize(("lines", "fmt"), [(TD3, "TD3"), (TD2, "TD2"), (TD1, "TD1")])
def test_specimens_parse_with_every_check_digit(lines: tuple[str, ...], fmt: str) -> None:
    r = parse_mrz(lines, today=TODAY)
    assert r.format == fmt and r.valid
    assert r.surname == "ERIKSSON" and r.given_names == "ANNA MARIA"
    assert r.birth_date == dt.date(1974, 8, 12) and r.expiry_date == dt.date(2012, 4, 15)
    assert r.sex == "F" and r.issuer == "UTO" and r.nationality == "UTO"
    expected = {"TD3": 5, "TD2": 4, "TD1": 4}[fmt]
    assert len(r.checks) == expected and all(r.checks.values())


@pytest.mark.parametrize(
    ("line", "pos", "check"),
    [
        (1, 9, "number"),
        (1, 19, "birth_date"),
        (1, 27, "expiry_date"),
        (1, 42, "optional"),
        (1, 43, "composite"),
    ],
)
def test_each_td3_check_digit_is_checked(line: int, pos: int, check: str) -> None:
    rows = list(TD3)
    old = rows[line][pos]
    rows[line] = rows[line][:pos] + ("1" if old != "1" else "2") + rows[line][pos + 1 :]
    r = parse_mrz(rows, today=TODAY)
    assert not r.valid and r.checks[check] is False
    assert (
        [k for k, ok in r.checks.items() if not ok] == [check]
        or check == "composite"
        or not r.checks["composite"]
    )


def test_td1_each_check_digit() -> None:
    for line, pos, check in [
        (0, 14, "number"),
        (1, 6, "birth_date"),
        (1, 14, "expiry_date"),
        (1, 29, "composite"),
    ]:
        rows = list(TD1)
        rows[line] = rows[line][:pos] + ("1" if rows[line][pos] != "1" else "2") + rows[line][pos + 1 :]
        assert parse_mrz(rows, today=TODAY).checks[check] is False


def test_changing_a_field_breaks_its_check_digit() -> None:
    rows = [TD3[0], TD3[1].replace("7408122", "7409122")]
    r = parse_mrz(rows, today=TODAY)
    assert r.checks["birth_date"] is False and r.checks["composite"] is False


def test_bad_shape() -> None:
    with pytest.raises(DocumentError) as err:
        parse_mrz(["P<UTO", "123"], today=TODAY)
    assert err.value.reason == Reason.MRZ_FORMAT
    with pytest.raises(DocumentError) as err:
        parse_mrz([TD3[0], TD3[1].replace("<", "#")], today=TODAY)
    assert err.value.reason == Reason.MRZ_FORMAT


def test_ocr_confusions_are_repaired_with_check_digits() -> None:
    noisy = [
        "P<UT0ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<",  # O read as 0, fillers dropped
        "L898902C36UT07408I22F12O4159ZEI84226B<<<<<10",  # I for 1 in a date, O for 0, I in the number
    ]
    r = read_mrz(["Passport", *noisy, "signature"], today=TODAY)
    assert r.valid and r.number == "L898902C3" and r.lines == TD3


def test_lower_case_misreads_inside_the_zone() -> None:
    rows = ["Dateofexpiry/Dated'expiration", "P<UTOErIKSSON<<ANNA<MArIA<<<<<<<<<<<<<<<<<<<", TD3[1]]
    assert read_mrz(rows, today=TODAY).lines == TD3


def test_fillers_read_as_k() -> None:
    noisy = ["I<UTOERIKSSON<<ANNA<MARIA<<<<KK<<<<<", "D231458907UTO7408122F1204159<<KK<<<6"]
    r = read_mrz(noisy, today=TODAY)
    assert r.valid and r.lines == TD2


def test_letter_for_digit_in_document_number() -> None:
    # The check digit decides between O and 0 in an alphanumeric document number.
    noisy = [TD1[0].replace("D23145890", "D2314589O"), TD1[1], TD1[2]]
    r = read_mrz(noisy, today=TODAY)
    assert r.valid and r.number == "D23145890"


def test_unrepairable_zone_reports_check_digit() -> None:
    rows = [TD3[0], TD3[1].replace("7408122", "7408123")]
    with pytest.raises(DocumentError) as err:
        read_mrz(rows, today=TODAY)
    assert err.value.reason == Reason.MRZ_CHECK_DIGIT


def test_no_zone() -> None:
    with pytest.raises(DocumentError) as err:
        read_mrz(["REPUBLIC OF UTOPIA", "PASSPORT"], today=TODAY)
    assert err.value.reason == Reason.MRZ_NOT_FOUND


def test_mrz_document_is_validated_like_any_other() -> None:
    doc = mrz_to_document(parse_mrz(TD3, today=TODAY))
    assert doc.source == "mrz" and doc.kind == "passport" and doc.id_number == "L898902C3"
    assert validate_document(doc, today=TODAY).reasons == (Reason.ID_EXPIRED,)
    assert validate_document(doc, today=dt.date(2012, 4, 15)).ok


def test_birth_century_never_in_the_future() -> None:
    line2 = "L898902C36UTO3008122F3504150ZE184226B<<<<<18"
    line2 = line2[:19] + check_digit("300812") + line2[20:27] + check_digit("350415") + line2[28:]
    body = line2[0:10] + line2[13:20] + line2[21:43]
    line2 = line2[:43] + check_digit(body)
    r = parse_mrz([TD3[0], line2], today=TODAY)
    assert r.birth_date == dt.date(1930, 8, 12) and r.expiry_date == dt.date(2035, 4, 15)
    assert r.valid


def test_visas_have_no_composite_check_digit() -> None:
    # ICAO 9303 Part 7 specimens: MRV-A (44 characters) and MRV-B (36).
    mrv_a = ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<")
    mrv_b = ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<")
    for lines in (mrv_a, mrv_b):
        r = parse_mrz(lines, today=TODAY)
        assert r.valid and set(r.checks) == {"number", "birth_date", "expiry_date"}
        assert r.number == "L8988901C" and r.birth_date == dt.date(1940, 9, 7)
        assert mrz_to_document(r).kind == "visa"
    assert read_mrz([mrv_a[0], mrv_a[1].replace("4009078", "4OO9078")], today=TODAY).lines == mrv_a
