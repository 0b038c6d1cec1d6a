"""Checks of the identity fields of a loan-book row: PRC resident ID numbers (GB 11643),
mainland phone numbers and ISO dates."""

from __future__ import annotations

import re
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643, digits 1–17
ID_CHECK = "10X98765432"  # the check character, by weighted sum mod 11
_ID18 = re.compile(r"\d{17}[\dX]")
_ID15 = re.compile(r"\d{15}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0(?:10|2\d|[3-9]\d\d)\d{7,8}")
_PHONE_JUNK = re.compile(r"[\s\-()（）]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def id_number_error(value: str) -> str | None:
    """Why ``value`` is not a PRC resident ID (居民身份证号码, GB 11643), or None."""
    if _ID15.fullmatch(value):
        return None
    if not _ID18.fullmatch(value):
        return "must be 18 characters (17 digits and a digit or X) or 15 digits"
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK[total % 11] != value[17]:
        return "check digit is wrong (GB 11643)"
    return None


def normalise_phone(value: str) -> str | None:
    """A mainland mobile as 11 digits, a landline as ``area-number``; None when neither.

    Accepts ``+86``/``0086`` prefixes, spaces, dashes and brackets.
    """
    digits = _PHONE_JUNK.sub("", value)
    international = False
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits, international = digits[len(prefix) :], True
            break
    if _MOBILE.fullmatch(digits):
        return digits
    if international and not digits.startswith("0"):
        digits = "0" + digits
    if _LANDLINE.fullmatch(digits):
        area = 3 if digits[1] in "12" else 4  # 010 and 02x are the 3-digit area codes
        return f"{digits[:area]}-{digits[area:]}"
    return None


def parse_iso_date(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date") from None
