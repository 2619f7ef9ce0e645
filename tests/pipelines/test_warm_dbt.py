"""The warm dbt process: `refloop-dbt` hands a dbt command to a process that
imported dbt ahead of the build, and is dbt to its caller (output, exit
code, environment); with no such process it runs dbt itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.defs.transform import warm_dbt
from pipelines.paths import DBT_PROJECT_DIR


@pytest.fixture
def warm(monkeypatch):
    monkeypatch.delenv(warm_dbt.SWITCH, raising=False)
    assert warm_dbt.start()
    server = warm_dbt._server
    yield server
    warm_dbt.stop()


def launch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(warm_dbt.LAUNCHER), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_the_launcher_is_installed_and_is_what_dagster_runs_as_dbt():
    from pipelines.definitions import defs

    assert warm_dbt.LAUNCHER.exists(), "refloop-dbt is missing: run `make install`"
    assert Path(defs.resources["dbt"].dbt_executable) == warm_dbt.LAUNCHER


def test_the_warm_process_runs_one_command_with_the_callers_output_and_exit_code(warm):
    done = launch("--version")
    assert done.returncode == 0
    assert "installed:" in done.stdout       # dbt's output reaches the launcher's stdout
    assert warm.wait(timeout=30) == 0          # the warm process ran it, and ended
    assert not Path(os.environ[warm_dbt.ENV]).parent.exists()   # its socket's folder with it


def test_dbts_exit_code_comes_back_from_the_warm_process(warm):
    done = launch("no-such-command")
    assert done.returncode == 2 and "No such command 'no-such-command'" in done.stderr
    assert warm.wait(timeout=30) == 2


def test_with_no_warm_process_the_launcher_runs_dbt_itself(warm):
    assert launch("--version").returncode == 0             # uses the warm process up
    again = launch("no-such-command")                      # the socket is gone: dbt runs cold
    assert again.returncode == 2 and "No such command" in again.stderr
    cold = subprocess.run([str(warm_dbt.LAUNCHER), "--version"], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != warm_dbt.ENV})
    assert cold.returncode == 0 and "installed:" in cold.stdout


def test_the_warm_process_ends_with_the_run_that_started_it(warm):
    socket_path = Path(os.environ[warm_dbt.ENV])
    warm_dbt.stop()
    assert warm.poll() is not None
    assert not socket_path.parent.exists() and warm_dbt.ENV not in os.environ
    assert launch("--version").returncode == 0             # and dbt still runs


def test_it_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(warm_dbt.SWITCH, "off")
    assert not warm_dbt.start()
    assert warm_dbt.ENV not in os.environ


def test_a_dagster_dbt_build_runs_in_the_warm_process_with_the_callers_environment(warm, tmp_path, monkeypatch):
    """Through dagster-dbt, as a build runs it: the warehouse named by the
    caller's environment is the one written, and dbt's artifacts say the
    warm process ran it."""
    import duckdb

    from pipelines.definitions import defs

    warehouse = tmp_path / "seeded.duckdb"
    monkeypatch.setenv("REFLOOP_WAREHOUSE", str(warehouse))
    invocation = defs.resources["dbt"].cli(["seed", "--select", "specialty_groups"],
                                           target_path=tmp_path / "target").wait()
    assert invocation.is_successful()
    results = invocation.get_artifact("run_results.json")
    assert results["metadata"]["env"].get("REFLOOP_DBT_PROCESS") == "warm"
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses["seed.refloop.specialty_groups"] == "success" and set(statuses.values()) == {"success"}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from reference.specialty_groups").fetchone()[0] > 0
    assert warm.wait(timeout=30) == 0
    assert json.loads((tmp_path / "target" / "run_results.json").read_text())["args"]["which"] == "seed"


def test_a_build_runs_on_the_parse_made_ahead_only_when_its_parse_inputs_match(tmp_path, monkeypatch):
    """Parsed ahead for a build with this environment: the build takes that
    manifest; with another warehouse it parses as dbt does. Either way the
    build does its work and its artifacts say which it was. (Other vars are
    other parse inputs too: test_parse_inputs_leave_out_where_dbt_writes_and_how_it_logs.
    Each case here parses the whole project once or twice.)"""
    import duckdb

    monkeypatch.delenv(warm_dbt.SWITCH, raising=False)
    monkeypatch.setenv("REFLOOP_WAREHOUSE", str(tmp_path / "ahead.duckdb"))
    dirs = {"DBT_PROJECT_DIR": str(DBT_PROJECT_DIR), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    spec = {"args": ["--vars", '{"follow_up_after_days": 14}'], "env": dirs}
    cases = (("ahead", {}, ["--vars", '{"follow_up_after_days": 14}']),
             ("other_warehouse", {"REFLOOP_WAREHOUSE": str(tmp_path / "other.duckdb")},
              ["--vars", '{"follow_up_after_days": 14}']))
    for name, env, args in cases:
        assert warm_dbt.start(parse=spec)
        server = warm_dbt._server
        folder = Path(os.environ[warm_dbt.ENV]).parent
        try:
            done = launch("build", "--select", "specialty_groups", "--resource-type", "seed", *args, "--target-path", str(tmp_path / name),
                          env={**dirs, "DBT_LOG_FORMAT": "json", **env})
            assert server.wait(timeout=60) == done.returncode == 0, done.stdout[-2000:]
        finally:
            warm_dbt.stop()
        assert not folder.exists(), "the parse made ahead is left behind"
        results = json.loads((tmp_path / name / "run_results.json").read_text())
        assert results["metadata"]["env"]["REFLOOP_DBT_PARSE"] == ("ahead" if name == "ahead" else "build"), name
        assert {r["unique_id"]: r["status"] for r in results["results"]}["seed.refloop.specialty_groups"] == "success"
    for warehouse in ("ahead.duckdb", "other.duckdb"):
        with duckdb.connect(str(tmp_path / warehouse), read_only=True) as conn:
            assert conn.execute("select count(*) from reference.specialty_groups").fetchone()[0] > 0


def test_a_warm_process_that_parsed_ahead_and_ran_nothing_leaves_nothing_behind(tmp_path, monkeypatch):
    """A run that ends before its build (ingest failed, nothing to build):
    the parse made ahead goes with the warm process."""
    import time

    monkeypatch.delenv(warm_dbt.SWITCH, raising=False)
    monkeypatch.setenv("REFLOOP_WAREHOUSE", str(tmp_path / "unused.duckdb"))
    dirs = {"DBT_PROJECT_DIR": str(DBT_PROJECT_DIR), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    assert warm_dbt.start(parse={"args": [], "env": dirs})
    folder = Path(os.environ[warm_dbt.ENV]).parent
    deadline = time.monotonic() + 120
    try:
        while not (folder / "parse" / "manifest.json").exists():
            assert time.monotonic() < deadline, "the warm process did not parse ahead"
            time.sleep(0.2)
    finally:
        warm_dbt.stop()
    assert not folder.exists()


def test_parse_inputs_leave_out_where_dbt_writes_and_how_it_logs():
    base = {"REFLOOP_WAREHOUSE": "/w.duckdb", "DBT_PROJECT_DIR": "/p", "HOME": "/root"}
    inputs = warm_dbt._parse_inputs(["build", "--vars", "{}"], base)
    per_invocation = {**base, "DBT_TARGET_PATH": "/t1", "DBT_LOG_PATH": "/t1", "DBT_LOG_FORMAT": "json",
                      warm_dbt.ENV: "/s", "HOME": "/elsewhere"}
    assert warm_dbt._parse_inputs(["build", "--select", "x", "--vars", "{}"], per_invocation) == inputs
    assert warm_dbt._parse_inputs(["build", "--vars={}"], base) == inputs
    assert warm_dbt._parse_inputs(["build", "--vars", '{"a": 1}'], base) != inputs
    assert warm_dbt._parse_inputs(["build", "--vars", "{}", "--target", "spark"], base) != inputs
    assert warm_dbt._parse_inputs(["build", "--vars", "{}"], {**base, "REFLOOP_WAREHOUSE_ACCESS": "read_only"}) != inputs
    assert warm_dbt._parse_inputs(["build", "--vars", "{}"], {**base, "REFLOOP_VACUUM_TASKS": "100"}) == inputs
    assert warm_dbt._parse_inputs(["build", "--vars", "{}"], {**base, "DBT_PARTIAL_PARSE": "false"}) != inputs


def test_the_project_reads_the_environment_only_through_refloop_variables():
    """What the warm process compares before it takes a parse made ahead."""
    import re

    files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml",
             *(p for folder in ("models", "macros", "tests", "seeds") for p in (DBT_PROJECT_DIR / folder).rglob("*")
               if p.suffix in (".sql", ".yml", ".csv"))]
    names = {name for path in files for name in re.findall(r"env_var\(\s*['\"]([^'\"]+)", path.read_text())}
    assert names and all(name.startswith("REFLOOP_") for name in names), names


def test_the_launcher_module_imports_only_the_standard_library():
    """refloop-dbt imports it on every dbt call: importing dbt, Dagster or
    polars there would cost the time the warm process saves."""
    code = ("import sys; import pipelines.defs.transform.warm_dbt; "
            "print(','.join(sorted(m for m in ('dbt', 'dagster', 'polars', 'duckdb', 'pandas') if m in sys.modules)))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=DBT_PROJECT_DIR.parent).stdout.strip()
    assert imported == ""


LONG_QUERY = "select count(*) from range(50000000000) as t(x) where x % 7 = 3"


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, all its threads (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_long_dbt_command(tmp_path, warm_pid: int) -> tuple[subprocess.Popen, list[str], object]:
    """`dbt show` of a query that runs for minutes, once the warm process runs
    the query; with its output, and the thread that reads it to the end."""
    import threading
    import time

    env = {**os.environ, "REFLOOP_WAREHOUSE": str(tmp_path / "long.duckdb"), "DBT_LOG_FORMAT": "json",
           "DBT_LOG_LEVEL": "debug"}
    proc = subprocess.Popen([str(warm_dbt.LAUNCHER), "show", "--inline", LONG_QUERY, "--profiles-dir", ".",
                             "--target-path", str(tmp_path / "target")],
                            cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    for line in proc.stdout:
        output.append(line)
        if '"name": "SQLQuery"' in line and "range(50000000000)" in line:
            break
    else:
        pytest.fail("dbt ended before it ran the query:\n" + "".join(output[-20:]))
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    # dbt logs the query just before DuckDB starts it, and DuckDB drops a
    # cancel that comes before: wait until the query burns CPU
    base, deadline = _cpu_seconds(warm_pid), time.monotonic() + 120
    while _cpu_seconds(warm_pid) - base < 1.0:
        assert proc.poll() is None and time.monotonic() < deadline, "".join(output[-20:])
        time.sleep(0.1)
    return proc, output, reader


@pytest.mark.parametrize("how", ["interrupt", "kill"])
def test_stopping_the_launcher_stops_dbt_in_the_warm_process(warm, tmp_path, how):
    """Dagster cancels a build by interrupting dbt (then killing it): the
    interrupt is forwarded, and a killed launcher interrupts dbt too, so no
    build goes on writing the warehouse after its step has ended."""
    import signal

    proc, output, reader = _start_long_dbt_command(tmp_path, warm.pid)
    assert proc.poll() is None and warm.poll() is None        # dbt runs the query, in the warm process
    proc.send_signal(signal.SIGINT if how == "interrupt" else signal.SIGKILL)
    proc.wait(timeout=60)
    assert warm.wait(timeout=60) == 2                          # dbt's exit code after an interrupt: not 0,
    assert proc.returncode == (2 if how == "interrupt" else -signal.SIGKILL)    # the query did not finish
    reader.join(timeout=60)
    assert not any("ending it" in line for line in output)    # dbt stopped itself, before the deadline


_WATCHED_DBT = """
import os, signal, socket, sys, threading, time
from pipelines.defs.transform import warm_dbt

dbt, stopped_by = sys.argv[1:]
finished = threading.Event()
if dbt == "finished":
    finished.set()                                  # dbt ended before its launcher did
ours, launcher = socket.socketpair()
warm_dbt._watch(ours, finished, 0.5)
stopping = True
while True:
    try:                                            # dbt runs
        if stopping:
            stopping = False
            if stopped_by == "kill":
                launcher.close()                    # refloop-dbt is killed
            else:
                os.kill(os.getpid(), signal.SIGINT) # refloop-dbt forwards a cancel
        time.sleep(5)
        sys.exit(0)
    except KeyboardInterrupt:
        if dbt == "stops":
            sys.exit(130)
        # "deaf": dbt waits on a query its cancel missed
"""


@pytest.mark.parametrize("dbt, stopped_by, exit_code", [
    ("stops", "kill", 130), ("stops", "interrupt", 130),
    ("deaf", "kill", 2), ("deaf", "interrupt", 2),
    ("finished", "kill", 0),
])
def test_the_warm_process_interrupts_dbt_then_ends_at_a_deadline(dbt, stopped_by, exit_code):
    """What the warm process does when refloop-dbt is killed or forwards a
    cancel, in a process of its own: dbt is interrupted, and the process ends
    if dbt has not stopped by the deadline; a finished dbt is left alone."""
    done = subprocess.run([sys.executable, "-c", _WATCHED_DBT, dbt, stopped_by], capture_output=True, text=True,
                          timeout=60, cwd=DBT_PROJECT_DIR.parent)
    assert done.returncode == exit_code, done.stderr
    assert ("dbt had not stopped 0.5 s after it was interrupted; ending it" in done.stderr) == (dbt == "deaf")
