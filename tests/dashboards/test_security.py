"""Dashboard security: user values reach SQL only as bound parameters, URL
parameters cannot smuggle SQL, and the server binds to localhost by default."""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import queries
from pipelines.paths import ROOT

APP = str(ROOT / "dashboards" / "app.py")
PAGES = ["overview", "leakage", "turnaround", "program", "outreach", "cms50", "quality", "queue"]
INJECTIONS = [
    "x' or '1'='1",
    "'; drop table marts.fct_referrals; --",
    "cardiology') or (1=1",
    "\" or 1=1 --",
    "1; select * from raw.patients",
    "%' union select patient_id from raw.patients --",
    "\x00",
    "2026-01' or 1=1 --",
]


@pytest.fixture
def serving(built_warehouse, monkeypatch):
    monkeypatch.setenv("REFLOOP_SERVING", str(built_warehouse.serving))
    monkeypatch.setenv("REFLOOP_COORDINATOR_ACCESS", "1")
    return built_warehouse


CHOICES = {"dimension": list(queries.DIMENSIONS), "by": ["specialty_group", "created_month"]}


def filter_functions():
    """Every query function that takes the user's filters, once per value of
    the whitelisted choice it may also take."""
    calls = []
    for name, fn in vars(queries).items():
        if not (inspect.isfunction(fn) and fn.__module__ == queries.__name__):
            continue
        params = inspect.signature(fn).parameters
        if list(params)[:1] != ["f"]:
            continue
        extra = [p for p in list(params)[1:] if params[p].default is inspect.Parameter.empty]
        if not extra:
            calls.append((name, fn))
        else:
            (choice,) = extra
            calls.extend((f"{name}:{v}", lambda f, fn=fn, v=v: fn(f, v)) for v in CHOICES[choice])
    return calls


def test_injection_strings_in_every_filter_are_only_values(serving):
    functions = filter_functions()
    assert len(functions) >= 15
    tables_before = serving.scalar("select count(*) from duckdb_tables()", serving=True)
    referrals = serving.scalar("select count(*) from marts.fct_referrals", serving=True)
    for text in INJECTIONS:
        f = queries.Filters(date(2000, 1, 1), date(2100, 1, 1), (text,), (text,), (text,))
        for name, fn in functions:
            result = fn(f)
            # nothing matches a group, practice and payer that do not exist
            if hasattr(result, "empty"):
                numeric = result.select_dtypes("number")
                assert result.empty or numeric.fillna(0).eq(0).all().all(), (name, text)
            else:
                values = result.values() if isinstance(result, dict) else result
                assert not any(v for v in values if isinstance(v, int | float) and v == v), (name, text)
    assert serving.scalar("select count(*) from duckdb_tables()", serving=True) == tables_before
    assert serving.scalar("select count(*) from marts.fct_referrals", serving=True) == referrals


def test_the_grouping_dimension_comes_from_a_fixed_list(serving):
    f = queries.default_filters()
    with pytest.raises(ValueError, match="unknown dimension"):
        queries.by_dimension(f, "specialty_group from raw.patients --")
    with pytest.raises(ValueError):
        queries.turnaround(f, "1; drop table marts.fct_referrals")


@pytest.mark.parametrize("page", PAGES)
def test_injection_strings_in_url_parameters_change_nothing(serving, page):
    for text in INJECTIONS[:4]:
        at = AppTest.from_file(APP, default_timeout=90)
        for key in ("from", "to", "group", "practice", "payer"):
            at.query_params[key] = text
        at.run()
        if page != "overview":
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.message for e in at.exception]
        for key in ("f_groups", "f_practices", "f_payers"):
            assert at.multiselect(key=key).value == []      # not an option: dropped before any query


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_dashboard_binds_to_localhost_by_default(serving, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warehouse = serving.warehouse
    env = {k: v for k, v in os.environ.items() if k not in ("REFLOOP_SERVING", "REFLOOP_COORDINATOR_ACCESS")}
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--warehouse", str(warehouse),
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening_addresses(port):
            assert server.poll() is None and time.monotonic() < deadline, "dashboard did not start"
            time.sleep(0.5)
        # 0100007F is 127.0.0.1; no wildcard (00000000) or other address
        assert _listening_addresses(port) == {"0100007F"}
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
