"""The web console in a real browser (Debian's chromium and chromium-driver through Selenium)
against a real daemon on mock pins with a replay camera (issue 18): log in, enrol the face in
the clip from a photo with consent, see the GRANTED event appear on the dashboard, withdraw
and download the receipt; an auditor cannot reach the people pages."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (dev extra)")

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="needs Debian's chromium and chromium-driver (scripts/dev installs them)",
    ),
]

PASSWORD = "correct horse battery"


def _clip(folder: Path, face: np.ndarray) -> None:
    folder.mkdir()
    frame = np.full((480, 640, 3), 90, np.uint8)
    scale = 400 / max(face.shape[:2])
    small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame[40 : 40 + small.shape[0], 120 : 120 + small.shape[1]] = small
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[:, :, ::-1])


@pytest.fixture
def gate(tmp_path: Path, models_dir: Path, testdata: Path) -> Iterator[Path]:
    """The daemon: a looping clip of one face, mock pins, the admin socket in tmp_path."""
    from gpiozero.pins.mock import MockFactory

    from facegate.compliance.notice_text import build_notice
    from facegate.compliance.records import record_notice
    from facegate.config import load_config_text
    from facegate.service.app import App
    from facegate.store import create_master_key
    from helpers import load_rgb

    _clip(tmp_path / "clip", load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg"))
    text = (
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path / 'clip'}, fps: 5, loop: true}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
        f"models: {{dir: {models_dir}}}\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
        f"admin: {{socket: {tmp_path / 'admin.sock'}, group: null}}\n"
        'liveness: {mode: "off"}\n'
        "notice: {controller_name: Test Property Co., controller_contact: Office 1,"
        " alternatives: A card or a PIN at the office., withdrawal_how: Ask the office}\n"
    )
    (tmp_path / "gate.yaml").write_text(text)
    create_master_key(tmp_path / "state" / "master.key")
    cfg = load_config_text(text)
    assert cfg.notice is not None  # posted, so enrolment may name its version
    record_notice(cfg.store.state_dir, build_notice(cfg), now=1.7e9)
    app = App(cfg, pin_factory=MockFactory())
    app.start()
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    yield tmp_path / "gate.yaml"
    app.stop()
    thread.join(timeout=10)
    app.close()


@pytest.fixture
def console_url(gate: Path, tmp_path: Path) -> Iterator[str]:
    """The console served over HTTPS by uvicorn on a free localhost port."""

    from argon2 import PasswordHasher

    from facegate.web import WebSettings, create_app
    from facegate.web.accounts import Accounts
    from facegate.web.tls import make_self_signed
    from web_helpers import serve_https

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(tmp_path / "web" / "accounts.json", hasher=fast)
    accounts.add("ada", "admin", PASSWORD)
    accounts.add("audrey", "auditor", PASSWORD)
    cert, key = make_self_signed(
        tmp_path / "web" / "cert.pem", tmp_path / "web" / "key.pem", ["127.0.0.1"]
    )
    settings = WebSettings(
        socket=tmp_path / "admin.sock", accounts=accounts.path, config=gate, lang="en"
    )
    app = create_app(settings, hasher=fast)
    with serve_https(app, cert, key) as url:
        yield url
    app.state.console.daemon.close()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager never downloads anything
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # chromium's singleton folders: not in /tmp
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",
        "--disable-gpu",
        "--window-size=1200,900",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def _login(driver: Any, url: str, user: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    assert driver.find_element(By.ID, "logout")


def _wait(what: str, check: Any, timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_enrol_see_granted_withdraw_and_download_the_receipt(
    browser: Any, console_url: str, testdata: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _login(browser, console_url, "ada")
    browser.get(f"{console_url}/people/new")
    photo = testdata / "faces" / "barack_obama" / "obama.jpg"
    browser.find_element(By.ID, "photos").send_keys(str(photo))
    Select(browser.find_element(By.ID, "consent_method")).select_by_value("paper-form")
    browser.find_element(By.ID, "consent_ref").send_keys("F-2026-0017")
    assert browser.find_element(By.ID, "notice_version").get_attribute("value")  # prefilled
    Select(browser.find_element(By.ID, "age")).select_by_value("adult")
    browser.find_element(By.ID, "name").send_keys("Test Resident")
    browser.find_element(By.ID, "ack").click()
    browser.find_element(By.ID, "enrol").click()
    pseudonym = _wait("the enrolled person's page", lambda: browser.find_elements(By.ID, "person"))
    pseudonym = pseudonym[0].text
    assert pseudonym.startswith("p-")
    assert "Enrolled" in browser.find_element(By.ID, "flash").text

    browser.get(f"{console_url}/")  # the live timeline polls /api/live

    def granted() -> bool:
        rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr.granted")
        return any(pseudonym in row.text for row in rows)

    _wait("a GRANTED event on the dashboard", granted)

    browser.get(f"{console_url}/people/{pseudonym}")
    browser.find_element(By.ID, "withdraw").click()
    assert pseudonym in browser.find_element(By.ID, "done").text
    browser.find_element(By.ID, "receipt").click()
    downloads: Path = browser.downloads
    files = _wait(
        "the receipt download",
        lambda: [p for p in downloads.glob("*.json") if not p.name.endswith(".crdownload")],
        timeout=20,
    )
    receipt = json.loads(files[0].read_text())
    assert receipt["person"] == pseudonym and receipt["signature"]
    browser.get(f"{console_url}/people/{pseudonym}")
    assert browser.find_element(By.ID, "templates").text == "0"


def test_an_auditor_cannot_reach_the_people_pages(browser: Any, console_url: str) -> None:
    from selenium.webdriver.common.by import By

    _login(browser, console_url, "audrey")
    assert not browser.find_elements(By.ID, "nav-people")
    for path in ("/people", "/people/new"):
        browser.get(f"{console_url}{path}")
        assert "Your role may not do this" in browser.find_element(By.ID, "error").text
    browser.get(f"{console_url}/events")
    assert browser.find_elements(By.ID, "events")
