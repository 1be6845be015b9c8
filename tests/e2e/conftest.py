"""Browser test fixtures: a live server on a demo instance and one Chromium.

The server runs ``flask run`` in a subprocess on a fresh instance folder made
by ``flask init-demo``, so the browser tests drive the same app a user gets
from ``make run``. Screenshots of every step go to test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from .browser_helpers import SeededRecap, seed_recap

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = Path(os.environ.get("SIGREKAP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_SECONDS = 60


@dataclass(frozen=True)
class LiveServer:
    """A running SigRekap server and the demo accounts of its instance."""

    base_url: str
    instance: Path
    certs_dir: Path
    accounts: dict[str, dict[str, str]]

    def password(self, username: str) -> str:
        return self.accounts[username]["password"]

    def passphrase(self, username: str) -> str:
        return self.accounts[username]["passphrase"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"The test server exited with status {process.returncode}; "
                f"see {log}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"The test server did not answer {url} in time; see {log}")


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Start SigRekap on a free loopback port with a fresh demo instance."""
    if not CHROMIUM.exists():
        # `make setup` installs Chromium, so its absence is a failure.
        pytest.fail(f"Chromium not found at {CHROMIUM}; run `make setup` or set SIGREKAP_CHROMIUM")
    root = tmp_path_factory.mktemp("live")
    instance = root / "instance"
    certs = root / "certs"
    certs.mkdir()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Settings exported for other runs (a database URL, a storage folder) must
    # not reach this server, so inherited SIGREKAP_ variables are dropped.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIGREKAP_")},
        "SIGREKAP_INSTANCE": str(instance),
        "SIGREKAP_CERTS_DIR": str(certs),
        "SIGREKAP_PUBLIC_BASE_URL": base_url,
        "SIGREKAP_SECRET_KEY": "e2e-" + os.urandom(16).hex(),
        "PYTHONUNBUFFERED": "1",
    }
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    subprocess.run(
        [*flask, "init-demo"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    accounts = json.loads((instance / "demo-accounts.json").read_text())

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*flask, "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"{base_url}/masuk", process, log)
            yield LiveServer(base_url, instance, certs, accounts)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="package")
def browser(live_server: LiveServer) -> Iterator[Browser]:
    """Launch one headless Chromium for the browser tests.

    The fixture is package-scoped on purpose: while Playwright's sync API is
    active, its event loop counts as running in this thread, so asyncio.run()
    in later tests (pyHanko signing) would fail.
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """Open a fresh browser context (own cookies) at desktop size."""
    ctx = browser.new_context(
        base_url=live_server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        accept_downloads=True,
    )
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """Open a page that records script errors and CSP violations."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    assert not problems, "The browser reported problems:\n" + "\n".join(problems)


def _test_slug(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Return this test's screenshot folder under test-artifacts/e2e/, emptied."""
    folder = ARTIFACTS / _test_slug(request)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="package")
def archived_recap(browser: Browser, live_server: LiveServer) -> SeededRecap:
    """Seed an archived recap for 2026-09 whose history includes a rejection."""
    return seed_recap(
        browser,
        live_server,
        "2026-09",
        until="archived",
        reject_reason="Jumlah kanal SMS belum sesuai; mohon diperiksa ulang.",
    )


@pytest.fixture(scope="package")
def waiting_recap(browser: Browser, live_server: LiveServer) -> SeededRecap:
    """Seed a 2026-08 recap that waits for the Section Head's paraf."""
    return seed_recap(browser, live_server, "2026-08", until="at_kasi", rows=24)
