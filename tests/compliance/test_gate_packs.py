"""Compliance packs: validation, configuration, packs in force, stricter-wins combination."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from daihou.compliance.gate.packs import (
    PackError,
    combine,
    configured_pack_names,
    intersect,
    load_contact_pack,
    load_rules,
)
from daihou.compliance.gate.schema import MEDIA, ContactPack, parse_window

H = 3600


def pack(name: str = "strict", effective_on: str = "2026-01-01", **rules: Any) -> ContactPack:
    return ContactPack.model_validate(
        {
            "name": name,
            "version": "1",
            "effective_on": effective_on,
            "jurisdiction": "XX",
            "rules": rules,
        }
    )


def test_shipped_packs_carry_the_documented_numbers() -> None:
    cn = load_contact_pack("cn-2026")
    assert (cn.name, cn.jurisdiction, cn.effective_on) == ("cn-2026", "CN", date(2026, 1, 1))
    caps = {c.id: c for c in cn.rules.caps}
    assert caps["daily-connected-calls"].max == 3
    assert (caps["daily-connected-calls"].per, caps["daily-connected-calls"].counts) == (
        "debtor",
        "connected",
    )
    assert caps["daily-unanswered-per-number"].max == 6
    assert cn.rules.quiet_hours[0].allowed == ["08:00-22:00"]
    assert cn.rules.third_party[0].unreachable_days == 3
    assert cn.rules.third_party[0].allowed_purposes == ["leave-message"]

    us = load_contact_pack("us-reg-f")
    assert us.rules.quiet_hours[0].allowed == ["08:00-21:00"]
    (freq,) = us.rules.caps
    assert (freq.max, freq.window_days, freq.per) == (7, 7, "debt")
    assert us.rules.after_conversation[0].days == 7
    assert set(us.rules.opt_out[0].media) >= {"sms", "email"}


def test_windows_parse_end_exclusive_and_wrap_past_midnight() -> None:
    assert parse_window("08:00-22:00") == ((8 * H, 22 * H),)
    assert parse_window("00:00-24:00") == ((0, 24 * H),)
    assert parse_window("22:00-02:00") == ((0, 2 * H), (22 * H, 24 * H))
    assert parse_window("08:00:30-09:00") == ((8 * H + 30, 9 * H),)
    for bad in ("8-22", "08:00-08:00", "25:00-26:00", "08:00-24:30"):
        with pytest.raises(ValueError):
            parse_window(bad)


def test_invalid_packs_name_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "version": "1",
                "effective_on": "2026-01-01",
                "jurisdiction": "XX",
                "rules": {
                    "caps": [
                        {
                            "id": "c",
                            "max": -1,
                            "counts": "connected",
                            "per": "debtor",
                            "media": ["pigeon"],
                        }
                    ],
                    "holds": [{"blocks": {"vacation": ["all"]}}],
                },
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(PackError) as err:
        load_contact_pack(str(path))
    text = str(err.value)
    assert "rules.caps.0.max" in text and "rules.caps.0.media" in text
    assert "rules.holds.0.blocks.vacation" in text
    with pytest.raises(PackError, match="no compliance pack named"):
        load_contact_pack("nowhere")
    with pytest.raises(ValueError, match="unique"):
        pack(
            quiet_hours=[{"id": "x", "media": ["all"], "allowed": ["08:00-20:00"]}],
            caps=[{"id": "x", "max": 1, "counts": "attempts", "per": "debt", "media": ["call"]}],
        )


def test_packs_come_from_the_parameter_then_the_environment_then_cn_2026(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DAIHOU_COMPLIANCE_PACKS", raising=False)
    assert configured_pack_names() == ("cn-2026",)
    monkeypatch.setenv("DAIHOU_COMPLIANCE_PACKS", "cn-2026, us-reg-f")
    assert configured_pack_names() == ("cn-2026", "us-reg-f")
    assert load_rules().packs == ("cn-2026@2026.1", "us-reg-f@2021-11-30")
    assert configured_pack_names(["us-reg-f"]) == ("us-reg-f",)
    with pytest.raises(PackError):
        configured_pack_names(" , ")


def test_only_packs_in_force_apply_newest_version_first() -> None:
    old = pack("p", "2026-01-01", quiet_hours=[{"media": ["all"], "allowed": ["08:00-22:00"]}])
    new = pack("p", "2026-07-01", quiet_hours=[{"media": ["all"], "allowed": ["09:00-20:00"]}])
    assert combine([old, new], on=date(2026, 6, 30)).quiet["call"].intervals == ((8 * H, 22 * H),)
    assert combine([old, new], on=date(2026, 7, 1)).quiet["call"].intervals == ((9 * H, 20 * H),)
    with pytest.raises(PackError, match="no compliance pack in force on 2025-12-31"):
        combine([old, new], on=date(2025, 12, 31))
    cn, us = load_contact_pack("cn-2026"), load_contact_pack("us-reg-f")
    assert combine([cn, us], on=date(2025, 6, 1)).packs == ("us-reg-f@2021-11-30",)


def test_combine_intersects_windows_per_medium() -> None:
    rules = load_rules("cn-2026,us-reg-f")
    assert rules.quiet["call"].intervals == ((8 * H, 21 * H),)
    assert rules.quiet["letter"].intervals == ((8 * H, 22 * H),)
    assert [s[0] for s in rules.quiet["sms"].sources] == [
        "cn-2026/quiet-hours",
        "us-reg-f/inconvenient-time",
    ]
    split = pack(quiet_hours=[{"media": ["call"], "allowed": ["07:00-12:00", "14:00-23:00"]}])
    both = combine([load_contact_pack("cn-2026"), split])
    assert both.quiet["call"].intervals == ((8 * H, 12 * H), (14 * H, 22 * H))
    assert both.quiet["sms"].intervals == ((8 * H, 22 * H),)
    assert intersect(((0, 10),), ((20, 30),)) == ()


def test_combine_takes_the_minimum_of_caps_of_the_same_shape_and_keeps_the_others() -> None:
    tighter = pack(
        caps=[
            {
                "id": "calls",
                "max": 2,
                "counts": "connected",
                "per": "debtor",
                "media": ["call"],
                "parties": ["borrower"],
            },
            {
                "id": "weekly",
                "max": 10,
                "window_days": 7,
                "counts": "connected",
                "per": "debtor",
                "media": ["call"],
                "parties": ["borrower"],
            },
        ],
        after_conversation=[{"days": 3, "media": ["call"]}],
    )
    rules = combine([load_contact_pack("cn-2026"), load_contact_pack("us-reg-f"), tighter])
    by_rule = {c.rule: c.max for c in rules.caps}
    assert by_rule == {
        "strict/calls": 2,  # min(3, 2) for the daily connected-call cap
        "cn-2026/daily-unanswered-per-number": 6,
        "us-reg-f/call-frequency": 7,
        "strict/weekly": 10,
    }
    (after,) = rules.after_conversation
    assert (after.rule, after.days) == ("us-reg-f/after-conversation", 7)  # max(7, 3)
    assert rules.lookback_days == 7
    looser = pack(
        caps=[
            {
                "id": "calls",
                "max": 5,
                "counts": "connected",
                "per": "debtor",
                "media": ["call"],
                "parties": ["borrower"],
            }
        ]
    )
    (kept,) = [c for c in combine([load_contact_pack("cn-2026"), looser]).caps if c.max != 6]
    assert (kept.rule, kept.max) == ("cn-2026/daily-connected-calls", 3)


def test_combine_unites_blocks() -> None:
    cn, us = load_contact_pack("cn-2026"), load_contact_pack("us-reg-f")
    extra = pack(
        holds=[{"blocks": {"hardship": ["call"]}}],
        opt_out=[{"media": ["call"], "parties": ["borrower", "guarantor"]}],
        promise=[{"media": ["call"]}],
    )
    rules = combine([us, extra])
    assert set(rules.holds["hardship"]) == {"call"}
    assert rules.holds["hardship"]["call"] == "strict/holds"
    assert set(rules.holds["dispute"]) == set(MEDIA)
    assert rules.opt_out["borrower"] == {
        "sms": "us-reg-f/opt-out",
        "email": "us-reg-f/opt-out",
        "app": "us-reg-f/opt-out",
        "call": "strict/opt-out",
    }
    assert rules.opt_out["guarantor"] == {"call": "strict/opt-out"}
    assert rules.promise == {"call": "strict/open-promise"}
    assert set(combine([cn, us]).holds["complaint"]) == set(MEDIA)


def test_combine_third_party_requires_the_longest_wait_and_every_packs_purpose() -> None:
    looser = pack(
        third_party=[
            {
                "unreachable_days": 5,
                "allowed_purposes": ["leave-message", "locate"],
                "parties": ["third-party", "contact-person"],
            }
        ]
    )
    rules = combine([load_contact_pack("cn-2026"), looser])
    third = rules.third_party["third-party"]
    assert (third.lost_contact_rule, third.unreachable_days) == ("strict/third-party", 5)
    assert third.purposes == frozenset({"leave-message"})
    assert third.purpose_denied_by("locate") == "cn-2026/third-party"
    assert third.purpose_denied_by("collection") == "cn-2026/third-party"
    assert rules.third_party["contact-person"].purposes == frozenset({"leave-message", "locate"})
