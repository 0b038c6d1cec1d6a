"""The documents, as blocks for ``daihou.documents.pdf`` built from stored inputs.

Pure functions of the inputs (``daihou.documents.inputs``): no database, no clock. The
wording is factual and neutral; ``tests/notify/test_documents.py`` runs every text
through the prohibited-language check.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from daihou.documents.pdf import Block

COMPONENT_ZH = {
    "principal": "本金",
    "interest": "利息",
    "fee": "费用",
    "penalty": "罚息",
    "compound": "复利",
}


def yuan(value: str | Decimal) -> str:
    return f"{Decimal(value):,.2f}"


def _lender(i: dict[str, Any]) -> dict[str, Any]:
    return dict(i["lender"])


def _how_to_pay(i: dict[str, Any]) -> list[Block]:
    lender = _lender(i)
    methods = "；".join(lender["payment_methods"])
    return [
        ("heading", "还款方式"),
        ("para", f"您可通过以下方式还款：{methods}。还款时请注明贷款编号 {i['loan']['id']}。"),
        ("heading", "咨询与异议"),
        (
            "para",
            f"如有疑问，请联系 {lender['hotline']}。如您对上述金额或事实有异议，"
            f"可通过 {lender['dispute_channel']} 提出，我行将在核实后答复您。",
        ),
    ]


def _signature(i: dict[str, Any]) -> list[Block]:
    return [("space", 18), ("para", _lender(i)["name"]), ("para", f"日期：{i['as_of']}")]


def _overdue_table(i: dict[str, Any]) -> Block:
    rows: list[list[str]] = [["期次", "到期日", "逾期天数", *COMPONENT_ZH.values(), "合计"]]
    for s in i["overdue"]:
        rows.append(
            [
                str(s["period"]),
                s["due_date"],
                str(s["days_overdue"]),
                *(yuan(s["left"][c]) for c in COMPONENT_ZH),
                yuan(s["total_left"]),
            ]
        )
    totals = i["overdue_total"]
    rows.append(["合计", "", "", *(yuan(totals[c]) for c in COMPONENT_ZH), yuan(i["overdue_sum"])])
    return ("table", rows)


def penalty_lines(i: dict[str, Any]) -> list[str]:
    """罚息计算明细, one line per overdue installment."""
    markup = i["loan"]["penalty_markup"]
    lines = []
    for s in i["overdue"]:
        lines.append(
            f"第 {s['period']} 期：罚息利率 = 合同年利率 {s['annual_rate']}% × (1 + {markup}%)"
            f" = {s['penalty_rate']}%（日利率 {s['daily_penalty_rate']}%）；"
            f"逾期本金累计积数 {yuan(s['penalty_base'])} 元·天 × {s['penalty_rate']}% ÷ 360"
            f" = 罚息 {yuan(s['due']['penalty'])} 元，已还 {yuan(s['paid']['penalty'])} 元；"
            f"复利积数 {yuan(s['compound_base'])} 元·天，复利 {yuan(s['due']['compound'])} 元。"
        )
    return lines


def _head(i: dict[str, Any], title: str, *, full_name: bool = True) -> list[Block]:
    c = i["customer"]
    name = c["name"] if full_name else c["name_masked"]
    blocks: list[Block] = [("title", title), ("para", f"{name}（贷款编号 {i['loan']['id']}）：")]
    return blocks


def reminder(i: dict[str, Any]) -> list[Block]:
    """还款提醒: the next installment, and anything already overdue."""
    blocks = _head(i, "还款提醒", full_name=False)
    nxt = i.get("next_due")
    if nxt:
        blocks.append(
            (
                "para",
                f"您好！您的贷款第 {nxt['period']} 期将于 {nxt['due_date']} 到期，"
                f"应还金额 {yuan(nxt['total_left'])} 元（本金 {yuan(nxt['left']['principal'])} 元，"
                f"利息 {yuan(nxt['left']['interest'])} 元）。请在到期日前存足款项。",
            )
        )
    if Decimal(i["overdue_sum"]) > 0:
        blocks.append(("para", f"您另有已到期未还金额 {yuan(i['overdue_sum'])} 元，请一并归还。"))
    if not nxt and Decimal(i["overdue_sum"]) == 0:
        blocks.append(("para", "您目前没有待还款项。"))
    return blocks + _how_to_pay(i) + _signature(i)


def overdue_notice(i: dict[str, Any]) -> list[Block]:
    """逾期通知书: days, amounts by component, penalty calculation, how to pay/dispute."""
    loan = i["loan"]
    blocks = _head(i, "逾期通知书")
    blocks += [
        (
            "para",
            f"截至 {i['as_of']} 日终，您于 {loan['disbursed_on']} 在我行办理的贷款"
            f"（本金 {yuan(loan['principal'])} 元，年利率 {loan['annual_rate']}%）"
            f"已逾期 {i['days_overdue']} 天，逾期应还合计 {yuan(i['overdue_sum'])} 元，明细如下：",
        ),
        _overdue_table(i),
        ("heading", "罚息计算明细"),
        (
            "para",
            f"依据借款合同，逾期本金按合同利率上浮 {loan['penalty_markup']}% 计收罚息，"
            "按日计算（年利率 ÷ 360）；逾期利息按罚息利率计收复利。",
        ),
        *(("para", line) for line in penalty_lines(i)),
        ("para", "请您尽快归还上述款项，以免罚息继续增加。"),
    ]
    return blocks + _how_to_pay(i) + _signature(i)


def collection_letter(i: dict[str, Any]) -> list[Block]:
    """催收函: a formal request to pay, with the amounts."""
    loan, totals = i["loan"], i["overdue_total"]
    extra = Decimal(totals["penalty"]) + Decimal(totals["compound"])
    blocks = _head(i, "催收函")
    blocks += [
        (
            "para",
            f"您在我行的贷款（编号 {loan['id']}）截至 {i['as_of']} 已逾期 {i['days_overdue']} 天，"
            f"尚欠到期款项 {yuan(i['overdue_sum'])} 元，其中本金 {yuan(totals['principal'])} 元、"
            f"利息 {yuan(totals['interest'])} 元、罚息及复利 {yuan(extra)} 元。",
        ),
        (
            "para",
            "根据借款合同约定，请您在收到本函之日起 7 日内归还上述款项。"
            "如您还款确有困难，可联系我行协商还款安排。",
        ),
        _overdue_table(i),
    ]
    return blocks + _how_to_pay(i) + _signature(i)


def settlement_certificate(i: dict[str, Any]) -> list[Block]:
    """结清证明: only for a closed loan."""
    loan, c = i["loan"], i["customer"]
    if loan["status"] != "closed" or not loan["closed_on"]:
        raise ValueError(f"loan {loan['id']} is not closed: no settlement certificate")
    return [
        ("title", "结清证明"),
        (
            "para",
            f"兹证明借款人 {c['name']}（证件号码 {c['id_number_masked']}）于 "
            f"{loan['disbursed_on']} 在我行申请的贷款（编号 {loan['id']}，本金 "
            f"{yuan(loan['principal'])} 元，期限 {loan['term_months']} 个月），"
            f"已于 {loan['closed_on']} 全部结清，本金、利息及相关费用均已归还。",
        ),
        ("para", "特此证明。"),
        *_signature(i),
    ]


def plan_agreement(i: dict[str, Any]) -> list[Block]:
    """还款计划协议: the overdue amount repaid in agreed parts."""
    loan, c, plan = i["loan"], i["customer"], i["plan"]
    total = sum((Decimal(p["amount"]) for p in plan), Decimal(0))
    rows = [["期次", "还款日", "金额（元）"]] + [
        [p["period"], p["due_date"], yuan(p["amount"])] for p in plan
    ]
    return [
        ("title", "还款计划协议"),
        (
            "kv",
            [
                ("甲方（贷款人）", _lender(i)["name"]),
                ("乙方（借款人）", c["name"]),
                ("证件号码", c["id_number_masked"]),
                ("贷款编号", loan["id"]),
            ],
        ),
        (
            "para",
            f"截至 {i['as_of']}，乙方逾期应还合计 {yuan(i['overdue_sum'])} 元。经双方协商，"
            f"乙方按下表分 {len(plan)} 期归还 {yuan(total)} 元：",
        ),
        ("table", rows),
        (
            "para",
            "乙方按期足额还款期间，甲方不再就上述款项进行催收。"
            "如乙方未按本计划还款，甲方有权按原借款合同约定处理。本协议一式两份，双方各执一份。",
        ),
        ("space", 18),
        ("para", "甲方（盖章）：                    乙方（签字）："),
        ("para", f"日期：{i['as_of']}"),
    ]


def evidence_bundle(i: dict[str, Any]) -> list[Block]:
    """诉讼证据材料: index, contract data, repayment statement, overdue proof, record."""
    loan, c = i["loan"], i["customer"]
    sections = ["一、合同信息", "二、还款明细", "三、逾期证明", "四、催收记录"]
    blocks: list[Block] = [
        ("title", "诉讼证据材料"),
        ("para", f"借款人：{c['name']}（{c['id_number_masked']}）  贷款编号：{loan['id']}"),
        ("heading", "目录"),
        ("table", [["序号", "内容"]] + [[str(n + 1), s] for n, s in enumerate(sections)]),
        ("pagebreak", ""),
        ("heading", sections[0]),
        (
            "kv",
            [
                ("贷款编号", loan["id"]),
                ("产品", loan["product"]),
                ("借款本金", f"{yuan(loan['principal'])} 元"),
                ("合同年利率", f"{loan['annual_rate']}%"),
                ("期限", f"{loan['term_months']} 个月"),
                ("还款方式", loan["method"]),
                ("放款日", loan["disbursed_on"]),
                ("剩余本金", f"{yuan(loan['outstanding_principal'])} 元"),
            ],
        ),
        ("heading", sections[1]),
        (
            "table",
            [["日期", "类型", "金额（元）", "渠道", "状态"]]
            + [
                [t["value_date"], t["kind"], yuan(t["amount"]), t["channel"], t["status"]]
                for t in i["transactions"]
            ],
        ),
        ("heading", sections[2]),
        (
            "para",
            f"截至 {i['as_of']}，逾期 {loan['dpd']} 天，逾期应还 {yuan(i['overdue_sum'])} 元。",
        ),
        _overdue_table(i),
        *(("para", line) for line in penalty_lines(i)),
        ("heading", sections[3]),
        (
            "table",
            [["时间（UTC）", "方式", "对象", "结果", "事由"]]
            + [
                [a["at_utc"], a["channel"], a["party"], a["outcome"], a["purpose"]]
                for a in i["contacts"]
            ],
        ),
        (
            "table",
            [["创建（UTC）", "渠道", "模板", "状态", "发送（UTC）"]]
            + [
                [m["created_utc"], m["channel"], m["template"], m["status"], m["sent_utc"]]
                for m in i["messages"]
            ],
        ),
        *_signature(i),
    ]
    return blocks


Builder = Callable[[dict[str, Any]], list[Block]]
BUILDERS: dict[str, tuple[str, Builder]] = {
    "reminder": ("还款提醒", reminder),
    "overdue-notice": ("逾期通知书", overdue_notice),
    "collection-letter": ("催收函", collection_letter),
    "settlement-certificate": ("结清证明", settlement_certificate),
    "plan-agreement": ("还款计划协议", plan_agreement),
    "evidence-bundle": ("诉讼证据材料", evidence_bundle),
}
