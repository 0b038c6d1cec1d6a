"""``check_text``: categories, spans in the original text, negation and allowed uses,
language selection, and lexicon packs as validated, versioned data."""

from __future__ import annotations

from pathlib import Path

import pytest

from daihou.compliance.language import Category, Severity, check_text, load_lexicon
from daihou.compliance.language.lexicon import LexiconError, load_pack


def categories(text: str) -> set[str]:
    return {hit.category.value for hit in check_text(text).hits}


def test_the_policy_example_is_a_threat_to_family_with_its_span() -> None:
    result = check_text("喂，不还钱就起诉你家人！")
    assert not result.passed
    assert result.max_severity is Severity.high
    (hit,) = [h for h in result.hits if h.category is Category.third_party]
    assert hit.span == (2, 11)
    assert hit.text == "不还钱就起诉你家人"
    assert hit.rule_id.startswith("zh.third_party")


@pytest.mark.parametrize(
    "text",
    [
        "不 还 钱 就 起 诉 你 家 人",
        "不還錢就起訴你家人",
        "不还钱就起＊诉你家人",
        "不还钱就起。诉你家人",
        "不还钱就起\u200b诉你家人",
    ],
)
def test_evasions_are_caught_and_reported_in_the_original_text(text: str) -> None:
    result = check_text(text)
    assert Category.third_party in result.categories
    hit = next(h for h in result.hits if h.category is Category.third_party)
    assert hit.text == text[hit.span[0] : hit.span[1]]
    assert hit.text.startswith("不") and hit.text.endswith("人")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("再不还钱就让你坐牢。", "threat"),
        ("你这个老赖。", "insult"),
        ("你给我等着，有你好看的。", "intimidation"),
        ("我是法院的，你的案子已经立案了。", "impersonation"),
        ("法院马上来抓你。", "impersonation"),
        ("我们会天天给你打电话，打到你接为止。", "harassment"),
        ("再不还就爆你通讯录。", "third_party"),
        ("已告知其妻子客户欠我行贷款5万元未还。", "disclosure"),
        ("再不还钱打断你的腿。", "violence"),
        ("If you don't pay today you will go to jail.", "threat"),
        ("You're a deadbeat.", "insult"),
        ("We know where you live.", "intimidation"),
        ("This is Officer Brown from the police department.", "impersonation"),
        ("We will tell your employer about this debt.", "third_party"),
        ("We'll keep calling until you pick up.", "harassment"),
        ("Told his brother he owes us $5,000.", "disclosure"),
        ("I will k i l l you", "violence"),
    ],
)
def test_each_category_in_both_languages(text: str, category: str) -> None:
    assert category in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "我们不会上门骚扰您，也不会联系您的单位。",
        "如有争议，可向人民法院起诉。",
        "如對欠款有異議，可以向法院起訴。",
        "逾期不属于刑事犯罪，您不会因此坐牢。",
        "客户担心会坐牢，已向其解释逾期属于民事纠纷。",
        "我们是XX银行的，不是法院，也不是公安机关。",
        "请勿相信冒充公检法的诈骗电话。",
        "请抓紧时间办理。",
        "已联系紧急联系人，请其转告借款人回电，未透露任何欠款信息。",
        "We will not contact your employer or your family about this account.",
        "You will not go to jail for a late payment.",
        "Skill-based routing sends calls to bilingual agents.",
        "Customer is a police officer and works night shifts.",
    ],
)
def test_legitimate_collection_language_passes(text: str) -> None:
    result = check_text(text)
    assert result.passed, result.describe()
    assert result.max_severity is None


def test_a_question_is_not_a_negation() -> None:
    assert "insult" in categories("你是不是脑子有病？")


def test_pinyin_for_one_character_is_caught() -> None:
    assert "threat" in categories("再不还就让你zuo牢")


def test_language_selects_packs() -> None:
    text = "You're a deadbeat. 你这个老赖。"
    assert {h.rule_id.split(".")[0] for h in check_text(text).hits} == {"en", "zh"}
    assert {h.rule_id.split(".")[0] for h in check_text(text, language="en").hits} == {"en"}
    assert {h.rule_id.split(".")[0] for h in check_text(text, language="zh-CN").hits} == {"zh"}
    with pytest.raises(ValueError, match="no lexicon pack for language 'fr'"):
        check_text(text, language="fr")


def test_hits_are_sorted_and_not_duplicated_within_a_category() -> None:
    result = check_text("坐牢坐牢，老赖")
    spans = [h.span for h in result.hits]
    assert spans == sorted(spans)
    assert len(spans) == len(set(spans))


def test_the_lexicon_is_compiled_once_and_versioned() -> None:
    assert load_lexicon() is load_lexicon()
    version = load_lexicon().version
    assert "language-zh-CN@" in version and "language-en@" in version
    assert check_text("你好").lexicon_version == version


def test_packs_are_validated_data(tmp_path: Path) -> None:
    pack = tmp_path / "mini.yaml"
    pack.write_text(
        "pack: mini\nlanguage: zh-CN\nversion: '1'\neffective_from: 2026-01-01\n"
        "rules:\n  - {id: mini.test, category: insult, severity: low, terms: [乌龟]}\n",
        encoding="utf-8",
    )
    lexicon = load_lexicon(str(pack))
    assert lexicon.version == "mini@1"
    (hit,) = check_text("你这只烏龜", lexicon=lexicon).hits
    assert (hit.category, hit.severity, hit.text) == (Category.insult, Severity.low, "烏龜")

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "pack: bad\nlanguage: zh-CN\nversion: '1'\neffective_from: 2026-01-01\n"
        "rules:\n  - {id: bad.x, category: rudeness, severity: low, patterns: ['(']}\n",
        encoding="utf-8",
    )
    with pytest.raises(LexiconError, match=r"rules\.0\.category") as err:
        load_pack(str(bad))
    assert "rules.0.patterns" in str(err.value)
    with pytest.raises(LexiconError, match="no lexicon pack named 'xx'"):
        load_pack("xx")


def test_packaged_packs_load() -> None:
    for name in ("zh-CN", "en"):
        pack = load_pack(name)
        assert pack.rules and pack.version
        assert {rule.category for rule in pack.rules} == set(Category)
