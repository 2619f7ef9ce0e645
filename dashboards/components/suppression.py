"""Small-cell suppression for executive views (docs/metrics.md, Privacy).

Primary: a count from 1 to 10 is hidden. Complementary: wherever a hidden
cell could be recovered from a total that is shown (its row's total, or its
column's total), the smallest other non-zero cell of that row or column is
hidden too, until no hidden cell stands alone. A rate is hidden when its
numerator or denominator is hidden or from 1 to 10. Money summed over a set
of 1 to 10 referrals is hidden with it. Zeros stay visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboards.settings import suppression_on

LOW, HIGH = 1, 10
NOTE = "Counts from 1 to 10, and figures that would reveal them, are suppressed (shown blank)."


def is_small(value) -> bool:
    return value is not None and not pd.isna(value) and LOW <= value <= HIGH


def count(value, enabled: bool | None = None):
    """A single count as shown: None when suppressed."""
    enabled = suppression_on() if enabled is None else enabled
    return None if enabled and is_small(value) else value


def rate(numerator, denominator, enabled: bool | None = None):
    """numerator / denominator as shown: None on a zero denominator, and when
    either side is small (the rate would reveal it)."""
    enabled = suppression_on() if enabled is None else enabled
    if denominator is None or pd.isna(denominator) or denominator == 0 or numerator is None or pd.isna(numerator):
        return None
    if enabled and (is_small(numerator) or is_small(denominator)):
        return None
    return float(numerator) / float(denominator)


def suppress_table(
    frame: pd.DataFrame,
    counts: Sequence[str],
    row_total: str | None = None,
    column_totals: bool = True,
    rates: Sequence[tuple[str, str, str]] = (),
    money: Sequence[tuple[str, str]] = (),
    enabled: bool | None = None,
) -> pd.DataFrame:
    """A copy of `frame` with small cells hidden (NaN).

    counts: count columns. row_total: a count column that is the sum of the
    other count columns of its row (its parts), when the table shows one.
    column_totals: the column sums are shown or known elsewhere (on the
    dashboards they usually are). rates: (rate column, numerator column,
    denominator column), recomputed from the suppressed counts. money:
    (money column, the count column of referrals it sums over).
    """
    enabled = suppression_on() if enabled is None else enabled
    out = frame.copy()
    counts = list(counts)
    values = out[counts].to_numpy(dtype=float, na_value=np.nan)
    hidden = (values >= LOW) & (values <= HIGH) if enabled else np.zeros(values.shape, dtype=bool)
    parts = [i for i, c in enumerate(counts) if c != row_total]
    total_index = counts.index(row_total) if row_total else None

    changed = enabled and not out.empty
    while changed:
        changed = False
        if total_index is not None:
            for r in range(values.shape[0]):
                if hidden[r, total_index]:
                    newly = [i for i in parts if not hidden[r, i] and values[r, i] > 0]
                    for i in newly:
                        hidden[r, i] = True
                    changed |= bool(newly)
                group = parts + [total_index]
                changed |= _protect_lone(values[r, group], hidden[r, group], lambda k, r=r, g=group: hidden.__setitem__((r, g[k]), True))
        if column_totals and values.shape[0] > 1:
            for c in range(values.shape[1]):
                changed |= _protect_lone(values[:, c], hidden[:, c], lambda k, c=c: hidden.__setitem__((k, c), True))

    for j, column in enumerate(counts):
        out[column] = out[column].astype("float64").mask(hidden[:, j])
    for rate_column, numerator, denominator in rates:
        num, den = out[numerator].astype("float64"), out[denominator].astype("float64")
        computed = num / den.where(den != 0)
        if enabled:
            computed = computed.mask(num.isna() | den.isna() | num.between(LOW, HIGH) | den.between(LOW, HIGH))
        out[rate_column] = computed
    if enabled:
        for money_column, basis in money:
            out[money_column] = out[money_column].astype("float64").mask(out[basis].isna() | out[basis].between(LOW, HIGH))
    return out


def _protect_lone(values: np.ndarray, hidden: np.ndarray, hide) -> bool:
    """If exactly one cell of this line is hidden, hide the smallest other
    positive one (so neither can be derived from the line's total)."""
    if hidden.sum() != 1:
        return False
    candidates = [(values[k], k) for k in range(len(values)) if not hidden[k] and values[k] > 0]
    if not candidates:
        return False
    hide(min(candidates)[1])
    return True
