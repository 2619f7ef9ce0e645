"""`refloop queue export`: the work list a coordinator or an EMR bulk-update
job consumes, one row per open referral with its action and evidence."""

from __future__ import annotations

import csv
import subprocess
import sys

REFLOOP = [sys.executable, "-m", "pipelines.cli"]


def read(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_writes_every_open_referral_once(built_warehouse, tmp_path):
    out = tmp_path / "queue.csv"
    done = subprocess.run([*REFLOOP, "queue", "export", "--warehouse", str(built_warehouse.warehouse), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = read(out)
    open_referrals = built_warehouse.scalar(
        "select count(*) from marts.fct_referrals where referral_status in ('active', 'on-hold')")
    assert len(rows) == len({r["referral_id"] for r in rows}) == open_referrals
    assert f"wrote {open_referrals:,} referrals" in done.stdout
    # ordered by action, then oldest first
    order = ["close_completed", "close_leaked", "expire", "reroute", "follow_up", "none"]
    ranks = [order.index(r["action"]) for r in rows]
    assert ranks == sorted(ranks)
    assert {r["action"] for r in rows} == set(order)
    # evidence travels with the action
    closes = [r for r in rows if r["action"] == "close_completed"]
    assert all(r["first_visit_date"] and r["first_visit_npi"] in r["reason"] for r in closes)
    assert "patient_id" not in rows[0]


def test_export_filters_by_action_and_matches_the_mart(built_warehouse, tmp_path):
    out = tmp_path / "reroute.csv"
    done = subprocess.run([*REFLOOP, "queue", "export", "--warehouse", str(built_warehouse.warehouse), "--out", str(out),
                           "--action", "reroute"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = read(out)
    expected = built_warehouse.query(
        "select referral_id, recommended_npi from marts.referral_queue where action = 'reroute' order by referral_id", serving=True)
    assert sorted((r["referral_id"], r["recommended_npi"] or None) for r in rows) == expected
    assert sum(1 for r in rows if r["recommended_npi"]) > 0.9 * len(rows)


def test_export_refuses_unknown_actions_and_missing_warehouses(tmp_path):
    bad = subprocess.run([*REFLOOP, "queue", "export", "--out", str(tmp_path / "x.csv"), "--action", "delete"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'delete'" in bad.stderr
    missing = subprocess.run([*REFLOOP, "queue", "export", "--warehouse", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "x.csv")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "build one first with `refloop run`" in missing.stderr
