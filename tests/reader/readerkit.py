"""Builders shared by the reader tests: the simulated card (a uniquely named module the tests import)."""

from __future__ import annotations

from simkyc.core.documents import check_character
from simkyc.core.documents.sam import CardText
from simkyc.reader import SimCard

FIRST17 = "11010519850312011"
NUMBER = FIRST17 + check_character(FIRST17)
PHOTO = bytes((i * 7) % 256 for i in range(1024))


def sim_card() -> SimCard:
    text = CardText(
        name="张伟",
        sex="1",
        ethnicity="01",
        birth_date="19850312",
        address="北京市朝阳区建国路1号",
        id_number=NUMBER,
        issuer="北京市公安局朝阳分局",
        valid_from="20200101",
        valid_until="长期",
    )
    return SimCard(text=text, photo=PHOTO)
