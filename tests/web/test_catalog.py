"""Every message the pages can show has a zh-CN translation; English is the id."""

from __future__ import annotations

from daihou.web.i18n import catalog, translator
from daihou.web.messages import all_messages, fixed_messages


def test_every_message_is_translated() -> None:
    zh = catalog("zh_CN")
    missing = [m for m in all_messages() if not zh.get(m)]
    assert missing == []


def test_messages_are_found_in_templates() -> None:
    found = fixed_messages()
    assert {"Sign in", "Post a payment", "Roll rates", "Loans"} <= found


def test_english_is_the_message_id() -> None:
    assert translator("en")("Sign in") == "Sign in"
    assert translator("zh_CN")("Sign in") == "登录"
