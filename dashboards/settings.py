"""Dashboard settings, from the environment (documented in docs/dashboards.md).

- REFLOOP_SERVING: the published read-only copy to read.
- REFLOOP_SUPPRESS_SMALL_CELLS: on unless set to 0/false/no; hides counts
  1-10 (and what would let them be derived) on executive pages and downloads.
- REFLOOP_COORDINATOR_ACCESS: off unless set to 1/true/yes; shows the
  patient-level referral queue page.
"""

from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def suppression_on() -> bool:
    return os.environ.get("REFLOOP_SUPPRESS_SMALL_CELLS", "1").strip().lower() not in _FALSE


def coordinator_access() -> bool:
    return os.environ.get("REFLOOP_COORDINATOR_ACCESS", "0").strip().lower() in _TRUE
