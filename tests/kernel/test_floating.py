from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from daihou.kernel import floating
from daihou.kernel.floating import floating_rate, lpr_on, repricing_dates

D = Decimal

# Published LPRs (贷款市场报价利率), a selection.
HISTORY: list[tuple[str, date, Decimal]] = [
    ("5y", date(2019, 8, 20), D("0.0485")),
    ("1y", date(2019, 8, 20), D("0.0425")),
    ("5y", date(2020, 4, 20), D("0.0465")),
    ("5y", date(2022, 5, 20), D("0.0445")),
    ("5y", date(2023, 6, 20), D("0.0420")),
    ("1y", date(2023, 6, 20), D("0.0355")),
    ("5y", date(2024, 2, 20), D("0.0395")),
    ("5y", date(2024, 10, 21), D("0.0360")),
    ("1y", date(2024, 10, 21), D("0.0310")),
]


def test_lpr_on_takes_the_latest_effective_rate() -> None:
    assert lpr_on(HISTORY, "5y", date(2024, 2, 20)) == D("0.0395")
    assert lpr_on(HISTORY, "5y", date(2024, 2, 19)) == D("0.0420")
    assert lpr_on(HISTORY, "5y", date(2030, 1, 1)) == D("0.0360")
    assert lpr_on(HISTORY, "1y", date(2024, 2, 20)) == D("0.0355")
    assert lpr_on(list(reversed(HISTORY)), "5y", date(2022, 6, 1)) == D("0.0445")


def test_lpr_on_without_a_rate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no 5y LPR"):
        lpr_on(HISTORY, "5y", date(2019, 8, 19))
    with pytest.raises(ValueError, match="no 3y LPR"):
        lpr_on(HISTORY, "3y", date(2024, 1, 1))
    clash = [*HISTORY, ("5y", date(2024, 2, 20), D("0.0400"))]
    with pytest.raises(ValueError, match="history"):
        lpr_on(clash, "5y", date(2024, 3, 1))


def test_floating_rate_adds_basis_points_exactly() -> None:
    assert floating_rate(D("0.0420"), 55) == D("0.0475")
    assert floating_rate(D("0.0395"), -20) == D("0.0375")
    assert floating_rate(D("0.0360"), 0) == D("0.0360")
    assert floating_rate(D("0.0030"), -30) == D("0")
    with pytest.raises(ValueError, match="spread_bps"):
        floating_rate(D("0.0030"), -31)
    with pytest.raises(ValueError, match="spread_bps"):
        floating_rate(D("0.0030"), 1.5)  # type: ignore[arg-type]


def test_anniversary_repricing_dates() -> None:
    dates = repricing_dates(
        disbursed_on=date(2024, 2, 29), repricing="anniversary", until=date(2028, 2, 29)
    )
    assert dates == [date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]
    assert (
        repricing_dates(
            disbursed_on=date(2024, 5, 10), repricing="anniversary", until=date(2025, 5, 9)
        )
        == []
    )
    assert repricing_dates(
        disbursed_on=date(2024, 5, 10), repricing="anniversary", until=date(2025, 5, 10)
    ) == [date(2025, 5, 10)]


def test_january_first_repricing_dates() -> None:
    assert repricing_dates(
        disbursed_on=date(2024, 1, 1), repricing="january-1", until=date(2026, 1, 1)
    ) == [date(2025, 1, 1), date(2026, 1, 1)]
    assert (
        repricing_dates(
            disbursed_on=date(2024, 6, 15), repricing="january-1", until=date(2024, 12, 31)
        )
        == []
    )
    assert (
        repricing_dates(
            disbursed_on=date(2024, 6, 15), repricing="january-1", until=date(2023, 1, 1)
        )
        == []
    )
    with pytest.raises(ValueError, match="repricing"):
        repricing_dates(
            disbursed_on=date(2024, 6, 15),
            repricing="monthly",  # type: ignore[arg-type]
            until=date(2025, 1, 1),
        )


def test_module_documents_when_a_repricing_applies() -> None:
    doc = floating.__doc__ or ""
    assert "first period that **starts** on or after R" in doc
    assert "reamortise" in doc
