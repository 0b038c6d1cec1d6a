"""Masks for personal data shown by default (脱敏展示), following common Chinese bank
practice: phone 138****5678, ID number 110101********1234, name 张**, address cut to
the district, bank card 6222 **** **** 1234. Destroyed values (retention) show as is."""

from __future__ import annotations

import re

from daihou.compliance.privacy.crypto import TOMBSTONE

_PROVINCE = r"(?:[^省市区县\d]{2,8}?(?:省|自治区|特别行政区)|(?:北京|上海|天津|重庆)市?)"
_PREFECTURE = r"(?:[^省市区县路街道号\d]{1,10}?(?:市|自治州|地区|盟))"
_COUNTY = r"(?:[^省市区县旗路街道号镇乡村\d]{1,8}?(?:自治县|自治旗|林区|特区|区|县|市|旗))"
_DISTRICT = re.compile(rf"^\s*(?P<top>{_PROVINCE}?{_PREFECTURE}?)(?P<county>{_COUNTY}?)")


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_phone(value: str | None) -> str | None:
    """``13812345678`` → ``138****5678``; a landline keeps its area code and last 4."""
    if value is None or value == TOMBSTONE:
        return value
    if "-" in value:
        area, _, number = value.partition("-")
        return f"{area}-{_keep(number, 0, 4)}"
    return _keep(value, 3, 4)


def mask_id_number(value: str | None) -> str | None:
    """First 6 (region) and last 4: ``110101199003071234`` → ``110101********1234``."""
    if value is None or value == TOMBSTONE:
        return value
    return _keep(value, 6, 4)


def mask_name(value: str | None) -> str | None:
    """The first character: ``张三丰`` → ``张**``, ``李四`` → ``李*``."""
    if value is None or value == TOMBSTONE:
        return value
    value = value.strip()
    return value[:1] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def mask_address(value: str | None) -> str | None:
    """Province, prefecture and district/county only: ``广东省深圳市南山区科技园…`` →
    ``广东省深圳市南山区****``. An address that does not start like a mainland
    administrative address (province or city first) is hidden entirely."""
    if value is None or value == TOMBSTONE:
        return value
    match = _DISTRICT.match(value)
    if match is None or not match.group("top"):
        return "****"  # no province or city: 阳光小区 is not a district
    kept = match.group(0).strip()
    return kept if kept == value.strip() else kept + "****"


def mask_employer(value: str | None) -> str | None:
    """Employer names identify people in small firms: first two characters only."""
    if value is None or value == TOMBSTONE:
        return value
    value = value.strip()
    return value[:2] + "****" if len(value) > 2 else "****"


def mask_bank_card(value: str | None) -> str | None:
    """``6222021234567891234`` → ``6222 **** **** 1234``."""
    if value is None or value == TOMBSTONE:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:4]} **** **** {digits[-4:]}"


MASKS = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "address": mask_address,
    "employer": mask_employer,
    "bank_card": mask_bank_card,
}
