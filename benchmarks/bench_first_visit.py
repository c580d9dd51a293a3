"""How long a freshly started app takes to show its first page, measured in a real browser.

For each run: start ``analyzer app`` on the database (a fresh server process, empty caches),
wait until it answers its health check, open the root URL in headless Chromium through the
DevTools protocol, and time from navigation until the Overview's entity table is drawn. Two
databases: the demo database as ``make demo`` builds it (analysis materialised), and a copy
whose stored analysis was dropped, so the pages compute it on the fly.

    python benchmarks/bench_first_visit.py --db data/demo.db [--runs 3]

Results go to ``benchmarks/results/first_visit.json``. Needs Chromium (``make chromium``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "first_visit.json"
ANALYSIS_TABLES = ("analysis_runs", "heat", "heat_sources", "divergence", "flags", "statistics")
# The Overview has drawn when its entity table is on the page.
DRAWN = "document.querySelector('[data-testid=\"stDataFrame\"]') !== null"
TARGET_S = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def start_app(db: Path, port: int, plain: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-c",
        "from analyzer.cli import main; main()",
        "app",
        "--db",
        str(db),
        "--port",
        str(port),
    ]
    if plain:
        # Plain `streamlit run`, without the warm start: what the first visit cost before it.
        env["ANALYZER_DB"] = str(db.resolve())
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(PROJECT_ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_browser(profile: Path, port: int) -> subprocess.Popen[bytes]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (make chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={port}",
        "--window-size=1400,1000",
        "about:blank",
    ]
    return subprocess.Popen(
        [chromium, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def time_first_page(debug_port: int, url: str, timeout: float) -> float:
    import websockets

    with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json/list", timeout=5) as reply:
        page = next(t for t in json.loads(reply.read()) if t["type"] == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
        counter = 0

        async def call(method: str, **params: Any) -> dict[str, Any]:
            nonlocal counter
            counter += 1
            await ws.send(json.dumps({"id": counter, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == counter:
                    return message.get("result", {})

        started = time.monotonic()
        await call("Page.navigate", url=url)
        while time.monotonic() - started < timeout:
            result = await call("Runtime.evaluate", expression=DRAWN, returnByValue=True)
            if result.get("result", {}).get("value") is True:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the Overview was not drawn within {timeout:g} s")


def measure(db: Path, runs: int, timeout: float, plain: bool = False) -> dict[str, Any]:
    seconds, startup = [], []
    for _ in range(runs):
        app_port, debug_port = free_port(), free_port()
        began = time.monotonic()
        server = start_app(db, app_port, plain)
        with tempfile.TemporaryDirectory(
            prefix="first-visit-browser-", ignore_cleanup_errors=True
        ) as profile:
            browser = start_browser(Path(profile), debug_port)
            try:
                wait_for(f"http://127.0.0.1:{app_port}/_stcore/health", 120)
                startup.append(time.monotonic() - began)
                wait_for(f"http://127.0.0.1:{debug_port}/json/version", 30)
                seconds.append(
                    asyncio.run(
                        time_first_page(debug_port, f"http://127.0.0.1:{app_port}/", timeout)
                    )
                )
            finally:
                browser.kill()
                os.killpg(server.pid, 9)
                server.wait()
                browser.wait()
    return {
        "runs_s": [round(s, 2) for s in seconds],
        "median_s": round(statistics.median(seconds), 2),
        "server_start_s": round(statistics.median(startup), 2),
    }


def without_analysis(db: Path, target: Path) -> Path:
    shutil.copy(db, target)
    with sqlite3.connect(target) as conn:
        for table in ANALYSIS_TABLES:
            conn.execute(f"DELETE FROM {table}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=PROJECT_ROOT / "data" / "demo.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--compare-plain",
        action="store_true",
        help="also measure plain `streamlit run` (no warm start) in the same run",
    )
    args = parser.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"{args.db} does not exist; build it with `make demo-build`")
    results: dict[str, Any] = {
        "database": args.db.name,
        "target_s": TARGET_S,
        "load_average_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="first-visit-") as tmp:
        results["materialised"] = measure(args.db, args.runs, args.timeout)
        bare = without_analysis(args.db, Path(tmp) / "bare.db")
        results["computed_on_the_fly"] = measure(bare, args.runs, args.timeout)
        if args.compare_plain:
            results["plain_streamlit_materialised"] = measure(
                args.db, args.runs, args.timeout, plain=True
            )
            results["plain_streamlit_computed_on_the_fly"] = measure(
                bare, args.runs, args.timeout, plain=True
            )
    results["load_average_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
