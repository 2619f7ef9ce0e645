"""Small-cell suppression: counts 1-10 hidden, and nothing hidden can be
derived back from totals or rates that are shown."""

import math

import pandas as pd

from dashboards.components.suppression import count, rate, suppress_table


def test_single_counts_and_rates():
    assert count(0, True) == 0 and count(11, True) == 11
    assert count(1, True) is None and count(10, True) is None
    assert count(5, False) == 5
    assert rate(5, 100, True) is None          # the rate would reveal the 5
    assert rate(50, 8, True) is None           # small denominator
    assert rate(0, 0, True) is None            # zero denominator: null, not 0
    assert rate(30, 120, True) == 0.25
    assert rate(5, 100, False) == 0.05


def test_complementary_suppression_in_rows_and_columns():
    frame = pd.DataFrame({
        "group": ["a", "b", "c"],
        "referrals": [100, 60, 200],
        "completed": [95, 40, 150],
        "expired": [5, 20, 50],
    })
    shown = suppress_table(frame, ["referrals", "completed", "expired"], row_total="referrals", enabled=True)
    hidden = shown[["referrals", "completed", "expired"]].isna().to_numpy()
    assert hidden[0, 2]  # the 5 itself
    # the 5 can't be recovered from its row (100 - 95) ...
    assert hidden[0].sum() >= 2
    # ... nor from its column total (the expired column has another hidden cell)
    assert hidden[:, 2].sum() >= 2
    # every line with a hidden cell hides at least two
    for line in list(hidden) + list(hidden.T):
        assert line.sum() != 1


def test_small_row_total_hides_the_row_and_rates_follow():
    frame = pd.DataFrame({"referrals": [8, 400], "completed": [6, 200], "completion_rate": [0.75, 0.5]})
    shown = suppress_table(frame, ["referrals", "completed"], row_total=None, column_totals=False,
                           rates=[("completion_rate", "completed", "referrals")], enabled=True)
    assert math.isnan(shown.loc[0, "referrals"]) and math.isnan(shown.loc[0, "completion_rate"])
    assert shown.loc[1, "completion_rate"] == 0.5


def test_zeros_and_disabled_suppression_stay_visible():
    frame = pd.DataFrame({"referrals": [0, 3, 50]})
    assert suppress_table(frame, ["referrals"], column_totals=False, enabled=True)["referrals"].tolist()[0] == 0
    assert suppress_table(frame, ["referrals"], enabled=False)["referrals"].tolist() == [0, 3, 50]


def test_rates_are_computed_with_suppression_off_too():
    frame = pd.DataFrame({"referrals": [8, 400], "completed": [6, 200]})
    shown = suppress_table(frame, ["referrals", "completed"], rates=[("rate", "completed", "referrals")], enabled=False)
    assert shown["rate"].tolist() == [0.75, 0.5]
