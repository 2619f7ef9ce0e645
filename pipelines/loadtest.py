"""Dashboard sessions over real HTTP and WebSocket, as a browser opens them.

A Streamlit page is a shell fetched over HTTP plus a WebSocket
(`/_stcore/stream`) on which the browser asks for a script run and receives
the page's elements. `open_page` does exactly that with Streamlit's own
protobuf messages, so many sessions can load every page at once without a
browser per session. Used by the reliability test (20 concurrent sessions
while a pipeline run writes) and by `refloop bench --sessions N`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

PAGES = ("overview", "leakage", "turnaround", "program", "outreach", "cms50", "quality")


@contextlib.contextmanager
def serving_dashboards(warehouse: Path, startup_seconds: float = 120) -> Iterator[str]:
    """`refloop dashboard` over the warehouse's published copy on a free
    localhost port; yields its base URL and stops it afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--warehouse", str(warehouse),
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the dashboard server did not start") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@dataclass
class PageLoad:
    page: str
    seconds: float
    elements: int = 0
    errors: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


def _errors_in(msg: ForwardMsg) -> list[str]:
    if not msg.HasField("delta") or not msg.delta.HasField("new_element"):
        return []
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    if kind == "exception":
        return [f"{element.exception.type}: {element.exception.message}"]
    if kind == "alert" and element.alert.format == element.alert.ERROR:
        return [element.alert.body]
    return []


async def open_page(base_url: str, page: str, query: str = "", timeout: float = 60.0) -> PageLoad:
    """Fetch the page's HTML shell, open a session, run the page's script and
    collect its elements until the run finishes; errors are the exception and
    error elements the page showed (or a failure to load at all)."""
    started = time.perf_counter()
    path = "" if page == "overview" else page
    try:
        await asyncio.to_thread(_get, f"{base_url}/{path}", timeout)
        ws_url = base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=timeout) as socket:
            back = BackMsg()
            back.rerun_script.query_string = query
            back.rerun_script.page_name = path
            await socket.send(back.SerializeToString())
            load = PageLoad(page, 0.0)
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    load.errors.append(f"no finished run within {timeout:.0f} s")
                    break
                msg = ForwardMsg()
                msg.ParseFromString(await asyncio.wait_for(socket.recv(), remaining))
                if msg.HasField("delta"):
                    load.elements += 1
                    load.errors.extend(_errors_in(msg))
                    if msg.delta.HasField("new_element") and msg.delta.new_element.WhichOneof("type") == "heading":
                        load.headings.append(msg.delta.new_element.heading.body)
                if msg.HasField("page_not_found"):
                    load.errors.append(f"page not found: {page}")
                if msg.HasField("script_finished"):
                    if msg.script_finished != msg.FINISHED_SUCCESSFULLY:
                        load.errors.append(f"script run ended with status {msg.script_finished}")
                    break
    except Exception as exc:  # noqa: BLE001 - any failure to load is what we report
        return PageLoad(page, time.perf_counter() - started, errors=[f"{type(exc).__name__}: {exc}"])
    load.seconds = time.perf_counter() - started
    return load


def _get(url: str, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        if response.status != 200 or b"<html" not in response.read(4096).lower():
            raise RuntimeError(f"GET {url}: HTTP {response.status}")


async def _session(base_url: str, pages: tuple[str, ...], rounds: int, timeout: float) -> list[PageLoad]:
    loads = []
    for _ in range(rounds):
        for page in pages:
            loads.append(await open_page(base_url, page, timeout=timeout))
    return loads


def run_sessions(base_url: str, sessions: int = 20, pages: tuple[str, ...] = PAGES, rounds: int = 1,
                 timeout: float = 60.0) -> list[PageLoad]:
    """`sessions` concurrent users, each opening every page `rounds` times."""
    async def main():
        results = await asyncio.gather(*(_session(base_url, pages, rounds, timeout) for _ in range(sessions)))
        return [load for loads in results for load in loads]
    return asyncio.run(main())


def summarize(loads: list[PageLoad]) -> dict:
    """p50/p95/max seconds per page and overall, and the errors seen."""
    def figures(seconds: list[float]) -> dict:
        ordered = sorted(seconds)
        return {"loads": len(ordered), "p50_s": round(statistics.median(ordered), 3),
                "p95_s": round(ordered[max(0, int(round(0.95 * len(ordered))) - 1)], 3),
                "max_s": round(ordered[-1], 3)}
    pages = sorted({load.page for load in loads})
    return {
        "overall": figures([load.seconds for load in loads]),
        "pages": {page: figures([load.seconds for load in loads if load.page == page]) for page in pages},
        "errors": [f"{load.page}: {error}" for load in loads for error in load.errors],
    }
