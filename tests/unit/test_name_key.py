"""The sort key of names (Vietnamese order): the letters without their marks, Đ as D, then the
marks to break ties; the same key whatever the script, as the plain definition gives it."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.web.pages.office_common import name_key


def plain_key(name: str) -> tuple[str, str]:
    """The definition: every combining mark dropped, one character at a time."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold(), name.casefold()


def test_vietnamese_names_sort_by_their_letters_then_marks() -> None:
    names = ["Đà Nẵng", "Cần Thơ", "Hà Nội", "Đắk Lắk", "Hà Giang", "An Giang", "Ða Lat"]
    assert sorted(names, key=name_key) == [
        "An Giang",
        "Cần Thơ",
        "Đà Nẵng",
        "Đắk Lắk",
        "Hà Giang",
        "Hà Nội",
        "Ða Lat",  # Ð (U+00D0, the eth) is not Đ: no letter of the alphabet, it sorts last
    ]
    assert name_key("Điểm trường Hồ Chí Minh")[0] == "diem truong ho chi minh"


# Latin letters and their marks, the grapheme joiner (U+034F, no mark), other scripts' marks
# (Hebrew, Devanagari, kana) and letters that decompose or fold (ǅ, ﬁ, ß).
_ALPHABET = st.sampled_from(
    [chr(c) for c in range(0x20, 0x250)]
    + [chr(c) for c in range(0x300, 0x370)]
    + [chr(c) for c in range(0x1E00, 0x1F00)]
    + ["\u05b0", "\u093c", "\u3099", "日", "\ufb01", "\u01c5", "ß", "Đ", "đ"]
)


@given(st.text(alphabet=_ALPHABET, max_size=16))
def test_the_key_is_the_plain_definition(name: str) -> None:
    assert name_key(name) == plain_key(name)
