"""`mashsim app` end to end: the real command, a real browser (Playwright + Chromium).

The test starts `mashsim app --port P` on a free loopback port, drives Debian's Chromium
headless, and always stops the server (its whole process group) afterwards. Every
request the page makes is recorded: anything not on 127.0.0.1 (a CDN, a web font,
telemetry) fails the test. Without /usr/bin/chromium the tests skip, except in CI (the
CI environment variable set), where that is a failure: .ci/run installs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import DEFAULT, ROOT

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT_S = 60
STEP_TIMEOUT_MS = 45_000
LOCAL = re.compile(r"^(https?|wss?)://127\.0\.0\.1[:/]|^(data|blob|about):")


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser tests (.ci/run installs it)")
    pytest.skip(why)


_need(CHROMIUM.exists(), f"{CHROMIUM} not found (apt-get install chromium)")
for _module in ("playwright", "streamlit"):
    try:
        __import__(_module)
    except ImportError:
        _need(False, f"{_module} is not installed (pip install -e '.[test]')")

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=STEP_TIMEOUT_MS)


def _free_port() -> int:
    from mashsim.app.launch import free_port

    return free_port()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`mashsim app` on a free port; its address. Stopped, with every child, at the end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "mashsim.cli", "app", str(DEFAULT), "--port",
                             str(_free_port())], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        url = _address(proc)
        yield url
    finally:
        _stop_group(proc)


def _address(proc: subprocess.Popen[str]) -> str:
    """The address `mashsim app` prints once the server answers."""
    deadline = time.monotonic() + START_TIMEOUT_S
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match:
                return match.group(0)
            if not line:
                break
    raise AssertionError("mashsim app did not print its address within "
                         f"{START_TIMEOUT_S} s (exit status {proc.poll()})")


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (the app stops its server and jobs), then SIGKILL whatever is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser_context() -> Iterator[object]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      accept_downloads=True)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        yield context
        browser.close()


@pytest.fixture
def page(server: str, browser_context) -> Iterator[Page]:
    page = browser_context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if LOCAL.match(r.url) else outside.append(r.url))
    page.goto(server)
    expect(page.get_by_role("button", name="Run what-if")).to_be_enabled()
    yield page
    page.close()
    assert outside == [], f"the page reached outside this computer: {outside}"


def _run(page: Page, number: int) -> float:
    """Press Run and wait for run `number`'s results; seconds from the click."""
    start = time.monotonic()
    page.get_by_role("button", name="Run what-if").click()
    expect(page.get_by_text(f"Run {number}: ")).to_be_visible()
    return time.monotonic() - start


def _breach_chart(page: Page) -> str:
    img = page.get_by_role("img", name=re.compile("breach rates by hub")).first
    expect(img).to_be_visible()
    return img.get_attribute("src")


def _reading_row(page: Page) -> str:
    return page.get_by_role("row").filter(has_text="Reading").first.inner_text()


def test_change_headcount_run_download_and_load_back(page: Page, tmp_path: Path) -> None:
    seconds = _run(page, 1)
    print(f"\ndefault scenario, 5 replications: click to result {seconds:.1f} s")
    chart, row = _breach_chart(page), _reading_row(page)
    posts = page.get_by_role("spinbutton", name="Reading: posts")
    posts.fill("8")
    posts.press("Enter")
    # the page has taken the new value (not only the input box) before Run is pressed
    expect(page.get_by_text("Changes from the baseline: hubs.reading.staff.headcount = 8")
           ).to_be_visible()
    expect(page.get_by_role("button", name="Run what-if")).to_be_enabled()
    _run(page, 2)
    # a new breach chart is drawn (Streamlit may show the stale one beside it for a while)
    page.wait_for_function(
        "old => [...document.querySelectorAll('img')].some("
        "i => (i.alt || '').includes('breach rates by hub') && i.src !== old)",
        arg=chart, timeout=STEP_TIMEOUT_MS)
    # Reading's breach rates moved (retried until the table has been drawn again)
    expect(page.get_by_role("row").filter(has_text="Reading").first).not_to_have_text(row)
    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the what-if scenario (TOML)").click()
    saved = tmp_path / "what_if.toml"
    info.value.save_as(saved)
    assert "headcount = 8" in saved.read_text()
    page.get_by_text("Upload a TOML file").click()
    page.locator("input[type=file]").set_input_files(str(saved))
    expect(page.get_by_role("spinbutton", name="Reading: posts")).to_have_value("8")


def test_bad_upload_shows_the_error(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "tests" / "data" / "one_role" / "thames_valley.toml").read_text()
                   .replace("headcount = 4,", "headcount = -2,", 1))
    page.get_by_text("Upload a TOML file").click()
    page.locator("input[type=file]").set_input_files(str(bad))
    expect(page.get_by_text("nothing was loaded")).to_be_visible()
    expect(page.get_by_text("bad.toml: hubs.reading.staff.headcount: Input should be greater "
                            "than or equal to 0, got -2")).to_be_visible()
    expect(page.get_by_role("button", name="Run what-if")).to_have_count(0)
