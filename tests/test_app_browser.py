"""End to end: `analyzer app` serves the seeded database and headless Chromium renders it.

Skips when no Chromium is installed (`make test` installs Debian's chromium when it can).
The screenshots are kept under data/test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_seed import ENTITIES, HOSTILE_TITLE, seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "data" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STARTUP_SECONDS = 90
RENDER_ATTEMPTS = 5
# Streamlit's grey loading placeholder has a pixel variance near 5e-5; a drawn page, well above 1e-3.
LOADING_PLACEHOLDER_VARIANCE = 1e-3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def analyzer_command() -> list[str]:
    script = Path(sys.executable).with_name("analyzer")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from analyzer.cli import main; main()"]


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[str]:  # noqa: F811
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium, or `make chromium`)")
    seed: dict[str, Any] = seeded(tmp_path_factory, tiny_model_dir)
    port = free_port()
    env = {**os.environ, "ANALYZER_MODEL": str(seed["model_dir"]), "HF_HUB_OFFLINE": "1"}
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as output:
        # A session of its own, so the whole group (the CLI and the Streamlit child) is stopped.
        server = subprocess.Popen(
            [*analyzer_command(), "app", "--db", str(seed["path"]), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"the app exited with {server.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the app did not answer within {STARTUP_SECONDS} s: {log.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield base
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def chromium(url: str, workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with a fresh profile (a reused one serves the app shell from its
    cache and can be captured before the app has drawn anything)."""
    assert CHROMIUM is not None
    workdir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def rendered_dom(url: str, workdir: Path, expected: list[str]) -> str:
    """The page's DOM once the app has drawn it (the first visit also warms the server up)."""
    dom = ""
    for _ in range(RENDER_ATTEMPTS):
        dom = chromium(url, workdir, "--dump-dom").stdout
        if all(text in dom for text in expected):
            return dom
        time.sleep(1)
    return dom


def screenshot(url: str, workdir: Path, target: Path) -> Any:
    """Pixels of a 1400x1000 screenshot; retried while it shows only the loading placeholder."""
    import matplotlib.image

    pixels = None
    for _ in range(RENDER_ATTEMPTS):
        target.unlink(missing_ok=True)
        chromium(url, workdir, f"--screenshot={target}", "--window-size=1400,1000")
        assert target.is_file(), "chromium wrote no screenshot"
        pixels = matplotlib.image.imread(str(target))
        if float(pixels.var()) > LOADING_PLACEHOLDER_VARIANCE:
            break
    return pixels


def test_overview_renders_the_seeded_entities_in_chromium(served_app: str, tmp_path: Path) -> None:
    names = [entity["name"] for entity in ENTITIES]
    dom = rendered_dom(f"{served_app}/", tmp_path, names)
    missing = [name for name in names if name not in dom]
    assert not missing, f"the rendered page does not name {missing}"
    assert "Latest flags" in dom

    target = tmp_path / "overview.png"
    pixels = screenshot(f"{served_app}/", tmp_path, target)
    assert pixels.shape[0] >= 900 and pixels.shape[1] >= 1300
    assert float(pixels.var()) > 0, "the screenshot is blank"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, ARTIFACTS / "app-overview.png")


def test_documents_page_never_renders_feed_markup(served_app: str, tmp_path: Path) -> None:
    dom = rendered_dom(f"{served_app}/documents", tmp_path, ["Documents", "matching documents"])
    assert "matching documents" in dom
    assert HOSTILE_TITLE not in dom  # raw, it would be live markup in the page
    assert "<script>alert('owned')</script>" not in dom
