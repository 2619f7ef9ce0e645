"""A dbt process started ahead of the build, so the build does not wait for
dbt's imports (about 2 s of every run, most of a daily run's dbt start-up).

`start()` launches a process that imports dbt and its DuckDB adapter, then
waits on a Unix socket for one command. dagster-dbt runs dbt as an executable
(`[executable, *args]`, reading its stdout): the executable it is given is
`refloop-dbt` (`launch`), which hands its arguments, working directory,
environment and standard streams to the waiting process, forwards signals to
it and exits with dbt's exit code. To dagster-dbt it is dbt. A killed
`refloop-dbt` interrupts dbt too, and a dbt that has not stopped
`STOP_GRACE` seconds after an interrupt is ended (`_watch`).

The waiting process runs one command and ends, so each build has a fresh
dbt, as before; only its imports happened earlier. Whenever there is no such
process (none was started, it was used, it died), `refloop-dbt` replaces
itself with this environment's dbt: nothing depends on the warm process but
the time saved.

It can also parse the project ahead (`start(parse=...)`: the arguments and
environment the build is expected to have). A `dbt build` that arrives with
the same parse inputs (its `--vars`, `--target`, `--profile`, project and
profiles folders, and every `DBT_*` and `REFLOOP_*` variable but the
per-invocation ones: where dbt writes, how it logs) then runs on that
manifest (dbt's `dbtRunner(manifest=...)`), without parsing again: about half
a second of a daily build's start, spent while the landed checks run. Any
other command, or other inputs, parses as dbt always does. The project reads
the environment only through `REFLOOP_*` variables
(tests/pipelines/test_warm_dbt.py checks it).

This module is imported by `refloop-dbt` on every dbt call: it imports only
the standard library at its top.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ENV = "REFLOOP_WARM_DBT_SOCKET"     # the waiting process's socket, for refloop-dbt
SWITCH = "REFLOOP_WARM_DBT"         # "off": every build starts dbt cold
DBT = Path(sys.executable).with_name("dbt")
LAUNCHER = Path(sys.executable).with_name("refloop-dbt")
# What a build imports, beyond `dbt.cli.main`: the adapter (loaded by name at
# run time) and the modules dbt imports lazily for `build`.
WARM_MODULES = (
    "dbt.cli.main", "dbt.adapters.duckdb", "dbt.adapters.duckdb.impl", "dbt.adapters.duckdb.connections",
    "dbt.adapters.duckdb.environments.local", "dbt.compilation", "dbt.parser.sql", "dbt.parser.schema_yaml_readers",
    "dbt.task.build", "dbt.task.run", "dbt.task.test", "dbt.task.seed", "dbt.runners", "dbt.graph.thread_pool",
    "dbt_common.clients.agate_helper", "sqlparse",
)

# Variables that differ between invocations without changing what a parse
# gives: where dbt writes, how it logs, how it was started.
PER_INVOCATION = frozenset({
    "DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_LOG_FORMAT", "DBT_LOG_FORMAT_FILE", "DBT_LOG_LEVEL", "DBT_LOG_LEVEL_FILE",
    "DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_USE_COLORS", "DBT_QUIET", "DBT_PRINTER_WIDTH", "DBT_INDIRECT_SELECTION",
    ENV, SWITCH,
    # read when the build runs (an on-run-start hook), never by the parse
    "REFLOOP_VACUUM_TASKS",
})
# Seconds dbt has to stop once interrupted (a cancel, or refloop-dbt killed)
# before the warm process ends: within dagster-dbt's wait for dbt to stop (25 s by default)
STOP_GRACE = 10.0
# Arguments that decide what a parse gives (with the variables above)
PARSE_OPTIONS = ("--vars", "--target", "-t", "--profile", "--project-dir", "--profiles-dir")

_lock = threading.Lock()
_server: subprocess.Popen | None = None
_socket: Path | None = None


def executable() -> Path:
    """What dagster-dbt runs as dbt: the launcher when installed, else dbt."""
    return LAUNCHER if LAUNCHER.exists() else DBT


def start(parse: dict | None = None) -> bool:
    """Start a warm dbt process for the next dbt command of this process, unless
    one waits already or REFLOOP_WARM_DBT is off. Returns whether one was started.
    `parse`: parse the project ahead for a build expected to run with
    `parse["args"]` (parse options: --vars, --target, ...) and this process's
    environment updated with `parse["env"]`; `parse["partial_parse"]`: a kept
    partial_parse.msgpack to start from."""
    global _server, _socket
    if os.environ.get(SWITCH, "").lower() in ("off", "0", "false", "no"):
        return False
    with _lock:
        if _server is not None and _server.poll() is None:
            return False
        path = Path(tempfile.mkdtemp(prefix="refloop-dbt-")) / "socket"
        # bound here, before the process starts: a dbt command from now on
        # finds it (and waits for its imports) instead of racing its start
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        try:
            # stdin is a pipe from this process: the warm process ends when it
            # reads end-of-file, so it never outlives the run that started it
            _server = subprocess.Popen(
                [sys.executable, "-m", __name__, "serve", str(path), str(listener.fileno()), json.dumps(parse or {})],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, pass_fds=[listener.fileno()],
            )
        finally:
            listener.close()
        _socket = path
        os.environ[ENV] = str(path)
        return True


def stop() -> None:
    """End the warm process if it is still waiting (the run ended before dbt)."""
    global _server, _socket
    with _lock:
        server, _server = _server, None
        path, _socket = _socket, None
        if os.environ.get(ENV):
            del os.environ[ENV]
    if server is None:
        return
    if server.stdin:
        server.stdin.close()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    if path is not None:    # gone already unless the process was killed
        shutil.rmtree(path.parent, ignore_errors=True)


# --- the warm process -------------------------------------------------------

def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("refloop-dbt closed the connection")
        data += chunk
    return data


def _parse_inputs(args: list[str], env: dict[str, str]) -> tuple:
    """What decides the manifest a dbt command parses: its parse options and
    the environment dbt and the project read (less the per-invocation part)."""
    options = {}
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in PARSE_OPTIONS:
            options[name] = value if value or "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
    variables = {k: v for k, v in env.items() if k.startswith(("DBT_", "REFLOOP_")) and k not in PER_INVOCATION}
    return tuple(sorted(options.items())), tuple(sorted(variables.items()))


def _pre_parse(spec: dict, folder: Path) -> tuple[object, Path, tuple] | None:
    """Parse the project as the expected build would, writing in `folder`:
    (manifest, `folder`, its parse inputs), or None when dbt could not."""
    from dbt.cli.main import dbtRunner

    env = {**os.environ, **spec.get("env", {})}
    folder.mkdir()
    kept = spec.get("partial_parse")
    if kept and Path(kept).exists():
        shutil.copy(kept, folder / "partial_parse.msgpack")
    saved, cwd = dict(os.environ), os.getcwd()
    os.environ.update(env)
    try:
        # where dagster-dbt runs dbt: relative paths in the profile resolve alike
        os.chdir(env.get("DBT_PROJECT_DIR") or cwd)
        result = dbtRunner().invoke(["parse", *spec.get("args", []), "--target-path", str(folder),
                                     "--log-path", str(folder)])
    except Exception:   # noqa: BLE001 - the build then parses as usual
        result = None
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)
    if result is None or not result.success or result.result is None:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return result.result, folder, _parse_inputs(["parse", *spec.get("args", [])], env)


def _exit_code(result) -> int:
    """dbt's exit code for a dbtRunner result, as `dbt` itself exits."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def _watch(conn: socket.socket, finished: threading.Event, grace: float = STOP_GRACE) -> None:
    """Stop dbt with its launcher. Call it in the main thread, before dbt runs.

    - refloop-dbt forwards an interrupt (Dagster's cancel) and sends nothing
      else after the command: end-of-file on `conn` before `finished` is set
      means it was killed, and dbt is interrupted then too. A killed dbt would
      have ended at once; the interrupt lets this one cancel its queries and
      write its artifacts first.
    - `grace` seconds after an interrupt, if dbt has not finished, the process
      ends (exit code 2, as dbt's after an interrupt). DuckDB drops a cancel
      that arrives just before a query starts, and dbt then waits for that
      query however long it runs, writing the warehouse after its step has
      ended. The deadline is what pressing Ctrl-C twice does to dbt.
    """
    deadline_set = threading.Event()

    def deadline() -> None:
        if finished.wait(grace):
            return
        try:
            print(f"refloop-dbt: dbt had not stopped {grace:g} s after it was interrupted; ending it",
                  file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass            # nobody reads the launcher's streams any more
        os._exit(2)

    def on_interrupt(signum: int, frame) -> None:
        if not deadline_set.is_set():
            deadline_set.set()
            threading.Thread(target=deadline, daemon=True).start()
        signal.default_int_handler(signum, frame)      # KeyboardInterrupt, which dbt handles

    def launcher_ended() -> None:
        try:
            if conn.recv(1):
                return
        except OSError:
            pass
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    signal.signal(signal.SIGINT, on_interrupt)
    threading.Thread(target=launcher_ended, daemon=True).start()


def serve(path: Path, listening_fd: int, spec: dict | None = None) -> int:
    """Import dbt (and parse the project, given `spec`), wait for one command
    from refloop-dbt, run it, send its exit code."""
    import importlib

    listener = socket.socket(fileno=listening_fd)
    parsed, accepted = None, False
    # the socket's folder holds the parse too: whoever ends this process
    # (itself, or `stop` killing it) removes the folder, and nothing is left
    try:
        for module in WARM_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass            # dbt imports what it needs itself; this only moves the cost earlier
        if spec:
            parsed = _pre_parse(spec, path.parent / "parse")
        while True:
            ready, _, _ = select.select([listener, sys.stdin], [], [])
            if sys.stdin in ready:
                return 0        # the run that started this process has ended
            conn, _ = listener.accept()
            accepted = True
            break
    finally:
        listener.close()
        path.unlink(missing_ok=True)
        if not accepted:
            shutil.rmtree(path.parent, ignore_errors=True)
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    size = int.from_bytes(_recv_exactly(conn, 8), "big")
    request = json.loads(_recv_exactly(conn, size))
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # dbt keeps DBT_ENV_CUSTOM_ENV_* in its artifacts' metadata: run_results.json says how it started
    os.environ["DBT_ENV_CUSTOM_ENV_REFLOOP_DBT_PROCESS"] = "warm"
    sys.argv = ["dbt", *request["args"]]
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")

    finished = threading.Event()
    _watch(conn, finished)
    from dbt.cli.main import cli, dbtRunner

    args = request["args"]
    reuse = (parsed is not None and args[:1] == ["build"]
             and _parse_inputs(args, request["env"]) == parsed[2])
    if parsed is not None:
        manifest, folder, _ = parsed
        target = request["env"].get("DBT_TARGET_PATH")
        if reuse and target and (folder / "partial_parse.msgpack").exists():
            # the build's folder keeps the parse, as if it had parsed itself
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "partial_parse.msgpack", Path(target) / "partial_parse.msgpack")
    shutil.rmtree(path.parent, ignore_errors=True)
    # dbt's artifacts say whether the build parsed or took the parse made ahead
    os.environ["DBT_ENV_CUSTOM_ENV_REFLOOP_DBT_PARSE"] = "ahead" if reuse else "build"
    from dbt_common.events.functions import reset_metadata_vars

    reset_metadata_vars()   # read once per process, by the parse made ahead: read this environment
    try:
        if reuse:
            code = _exit_code(dbtRunner(manifest=manifest).invoke(args))
        else:
            code = cli.main(args=args, prog_name="dbt")
    except SystemExit as done:
        code = done.code
    except KeyboardInterrupt:
        code = 130
    code = code if isinstance(code, int) else (0 if code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    finished.set()
    try:
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    except OSError:
        pass
    os._exit(code)


# --- refloop-dbt --------------------------------------------------------------

def _handoff(path: str) -> int | None:
    """Run this command in the warm process at `path`: its exit code, or None
    when there is none to take it (then nothing has run)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        socket.send_fds(conn, [b"R"], [0, 1, 2])
        payload = json.dumps({"args": sys.argv[1:], "cwd": os.getcwd(),
                              "env": {k: v for k, v in os.environ.items() if k != ENV}}).encode()
        conn.sendall(len(payload).to_bytes(8, "big") + payload)
        replies = conn.makefile("r")
        started = replies.readline()
    except OSError:
        conn.close()
        return None
    if not started:
        conn.close()
        return None
    pid = json.loads(started)["pid"]

    def forward(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    finished = replies.readline()
    if not finished:
        print(f"refloop-dbt: the dbt process ({pid}) ended without an exit status", file=sys.stderr)
        return 1
    return int(json.loads(finished)["exit"])


def launch() -> None:
    """`refloop-dbt ARGS`: dbt ARGS, in the warm process when one waits."""
    path = os.environ.get(ENV)
    if path:
        code = _handoff(path)
        if code is not None:
            sys.exit(code)
    os.execv(DBT, [str(DBT), *sys.argv[1:]])


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    sys.exit(serve(Path(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]) if len(sys.argv) > 4 else None))
