"""The browser console (``GET /``) in a real headless Chromium against a real circle.

The circle is a real ``python -m wsserver`` with a real worker and redis-server. The page signs in
through an EIP-1193 wallet injected before any page script runs (CDP
``Page.addScriptToEvaluateOnNewDocument``); each ``personal_sign`` request it receives waits until
this test signs the bytes with a real secp256k1 key (coincurve + keccak, independent of the
server's code) and hands the signature back. Skipped when chromium/chromedriver/selenium are absent.
"""
from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from coincurve import PrivateKey
from Crypto.Hash import keccak

from wshelpers import Server, pub, running_worker

OWNER, MEMBER, STRANGER = PrivateKey(), PrivateKey(), PrivateKey()
WAIT = 60
"""Seconds any one page event may take before the test fails (a safety net, not a pace)."""
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
                None)
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the test extras are not installed
    webdriver = None

WALLET_JS = """
(() => {
  // A minimal EIP-1193 wallet: one account; personal_sign waits for the test to answer.
  const account = %s;
  const requests = [];
  const waiting = new Map();
  let nextId = 1;
  window.__testWallet = {
    takeSignRequest: () => requests.shift() || null,
    answer: (id, signature) => { waiting.get(id).resolve(signature); waiting.delete(id); },
    decline: (id) => {
      const declined = Object.assign(new Error("User rejected the request."), { code: 4001 });
      waiting.get(id).reject(declined);
      waiting.delete(id);
    },
  };
  window.ethereum = {
    request: ({ method, params }) => {
      if (method === "eth_requestAccounts" || method === "eth_accounts") {
        return Promise.resolve([account]);
      }
      if (method === "personal_sign") {
        return new Promise((resolve, reject) => {
          const id = nextId++;
          waiting.set(id, { resolve, reject });
          requests.push({ id, params });
        });
      }
      return Promise.reject(Object.assign(new Error("unsupported: " + method), { code: 4200 }));
    },
    on: () => {},
    removeListener: () => {},
  };
})();
"""

FOREIGN_PAGE = """<!doctype html><html><body data-outcome="pending"><script>
  // A page from another origin tries to use the circle's WebSocket and play a script.
  const socket = new WebSocket(%s);
  let opened = false;
  socket.onopen = () => {
    opened = true;
    const play = {jsonrpc: "2.0", id: 1, method: "play", params: {script: "40 + 2"}};
    socket.send(JSON.stringify(play));
  };
  socket.onmessage = (event) => { document.body.dataset.outcome = "answered: " + event.data; };
  socket.onclose = () => {
    if (!opened) document.body.dataset.outcome = "refused";
  };
</script></body></html>"""


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def address_of(key: PrivateKey) -> str:
    """The key's Ethereum address, lowercase as wallets report accounts."""
    return "0x" + keccak256(key.public_key.format(compressed=False)[1:])[-20:].hex()


def personal_sign(key: PrivateKey, data: bytes) -> str:
    """What a wallet's personal_sign returns: r || s || v (v = 27/28) over the EIP-191 envelope."""
    digest = keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
    signature = key.sign_recoverable(digest, hasher=None)
    return "0x" + (signature[:64] + bytes([signature[64] + 27])).hex()


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def circle(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """OWNER's circle, served and worked, with MEMBER listed by address (as a wallet user is)."""
    with running_worker(redis_url, OWNER, tmp_path_factory.mktemp("circle-data")):
        running = Server(redis_url, OWNER, "--member", address_of(MEMBER))
        yield running
        running.stop()


@pytest.fixture(scope="module")
def workerless(redis_url: str) -> Iterator[Server]:
    """A circle no worker serves, with a short play timeout; MEMBER is a member."""
    running = Server(redis_url, PrivateKey(), "--member", address_of(MEMBER),
                     "--play-timeout", "1.5")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium driven through chromedriver."""
    if webdriver is None:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium and chromedriver on PATH (Debian: apt-get install chromium "
                    "chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium")
    for argument in ("--headless=new", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     "--window-size=1280,860", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def wallet(browser: Any) -> Iterator[Callable[[PrivateKey], None]]:
    """``wallet(key)`` gives every page loaded afterwards an EIP-1193 wallet holding ``key``."""
    installed: list[str] = []

    def install(key: PrivateKey) -> None:
        script = WALLET_JS % json.dumps(address_of(key))
        answer = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                         {"source": script})
        installed.append(answer["identifier"])

    yield install
    for identifier in installed:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                {"identifier": identifier})


@pytest.fixture
def foreign_site(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``foreign_site(ws_url)``: the URL of a page on another port that tries that WebSocket."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()

    def page(ws_url: str) -> str:
        pages["/try"] = (FOREIGN_PAGE % json.dumps(ws_url)).encode()
        return f"http://127.0.0.1:{site.server_address[1]}/try"

    yield page
    site.shutdown()
    site.server_close()


# --- page helpers -----------------------------------------------------------------------------

def page_state(driver: Any) -> str:
    """What the page says about itself, for failure messages."""
    return driver.execute_script(
        "const b = document.body; return JSON.stringify({connection: b.dataset.connection,"
        " auth: b.dataset.auth, status: (document.getElementById('result') || {dataset: {}})"
        ".dataset.status, text: b.innerText.slice(0, 1500)});")


def wait_for(driver: Any, what: str, condition: Callable[[Any], Any]) -> Any:
    """Wait (up to ``WAIT`` s) until ``condition(driver)`` is truthy; fail saying what and where."""
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; page: {page_state(driver)}")


def attribute(driver: Any, css: str, name: str) -> str | None:
    return driver.find_element(By.CSS_SELECTOR, css).get_attribute(name)


def wait_until_attribute(driver: Any, css: str, name: str, wanted: str) -> None:
    wait_for(driver, f"{css}[{name}={wanted}]", lambda d: attribute(d, css, name) == wanted)


def text(driver: Any, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def open_console(driver: Any, url: str) -> None:
    driver.get(url)
    wait_until_attribute(driver, "body", "data-connection", "connected")


def sign_in(driver: Any, key: PrivateKey) -> str:
    """Click "Sign in", answer the wallet's personal_sign with ``key``; the text it signed."""
    driver.find_element(By.ID, "sign-in").click()
    request = wait_for(driver, "the wallet's personal_sign request", lambda d: d.execute_script(
        "return window.__testWallet.takeSignRequest()"
        " || (document.body.dataset.auth === 'failed' ? 'failed' : null);"))
    assert request != "failed", f"sign-in failed before signing: {page_state(driver)}"
    data_hex, account = request["params"]
    assert account == address_of(key)
    data = bytes.fromhex(data_hex.removeprefix("0x"))
    driver.execute_script("window.__testWallet.answer(arguments[0], arguments[1]);",
                          request["id"], personal_sign(key, data))
    wait_for(driver, "the sign-in to finish",
             lambda d: attribute(d, "body", "data-auth") not in ("signing", "signed-out"))
    return data.decode("utf-8")


def run_script(driver: Any, script: str) -> str:
    """Type ``script``, press Ctrl+Enter, wait for the run to reach the history; its status."""
    runs_before = len(driver.find_elements(By.CSS_SELECTOR, "#history li"))
    editor = driver.find_element(By.ID, "script")
    editor.clear()
    editor.send_keys(script)
    ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    wait_for(driver, "the run to finish",
             lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history li")) == runs_before + 1)
    return attribute(driver, "#result", "data-status") or ""


def page_problems(driver: Any) -> list[str]:
    """Errors the page logged (script errors, Content-Security-Policy refusals, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# --- the server side of the page, without a browser -------------------------------------------

def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)  # sent as written: no client-side normalisation of ".."
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_console_page_is_served_with_a_strict_policy(circle: Server) -> None:
    status, headers, body = fetch(circle.port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script src="/console/console.js"' in body and b"<style" not in body
    policy = headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                      f"connect-src 'self' ws://127.0.0.1:{circle.port}", "img-src 'self'",
                      "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("path", "content_type"), [
    ("/console/console.js", "text/javascript; charset=utf-8"),
    ("/console/console.css", "text/css; charset=utf-8"),
    ("/console/icon.svg", "image/svg+xml"),
])
def test_console_files_have_their_content_types(circle: Server, path: str,
                                                content_type: str) -> None:
    status, headers, body = fetch(circle.port, path)
    assert (status, headers["content-type"]) == (200, content_type) and body
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/console/", "/console/../console.py", "/console/%2e%2e/app.py",
                                  "/console/..%2f__main__.py", "/console/missing.js"])
def test_no_listing_no_traversal(circle: Server, path: str) -> None:
    status, headers, body = fetch(circle.port, path)
    assert status in (403, 404)
    assert b"import" not in body and b"console.js" not in body
    assert "default-src 'none'" in headers["content-security-policy"]


# --- in the browser ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_member_signs_in_with_a_wallet_and_runs_scripts(
        circle: Server, browser: Any, wallet: Callable[[PrivateKey], None], host: str,
        tmp_path: Path) -> None:
    wallet(MEMBER)
    open_console(browser, f"http://{host}:{circle.port}/")
    assert text(browser, "circle-key") == pub(OWNER)
    assert text(browser, "circle-name") == "test"

    signed = sign_in(browser, MEMBER)
    # What the wallet shows the person: an EIP-4361 message for the site they are on.
    first_lines = signed.split("\n")[:2]
    assert first_lines[0] == (f"{host}:{circle.port} wants you to sign in with your Ethereum"
                              " account:")
    assert first_lines[1].lower() == address_of(MEMBER)
    assert f"URI: http://{host}:{circle.port}/" in signed
    assert attribute(browser, "body", "data-auth") == "signed-in", page_state(browser)
    assert text(browser, "my-address").lower() == address_of(MEMBER)
    assert text(browser, "my-pubkey") == pub(MEMBER)

    assert run_script(browser, 'print("caller " + CALLER_PUBLIC_KEY);\n40 + 2') == "ok"
    assert text(browser, "output") == f"caller {pub(MEMBER)}\n42"

    assert run_script(browser, "let x = 1;\nx +* 2") == "error"
    summary = text(browser, "result-summary")
    assert summary.startswith("Script error at line 2, position "), summary
    assert "x +* 2" in text(browser, "error-line")

    history = browser.find_elements(By.CSS_SELECTOR, "#history li")
    assert [item.find_element(By.CLASS_NAME, "status").text for item in history] == ["error", "ok"]
    history[1].find_element(By.TAG_NAME, "button").click()  # back to the first run
    assert browser.find_element(By.ID, "script").get_property("value").endswith("40 + 2")
    assert text(browser, "output") == f"caller {pub(MEMBER)}\n42"

    # Whatever a script prints is shown as text, never interpreted as markup.
    assert run_script(browser, 'print("<img src=x>"); "<b>bold</b>"') == "ok"
    assert text(browser, "output") == "<img src=x>\n<b>bold</b>"
    assert browser.find_elements(By.CSS_SELECTOR, "#output *") == []

    browser.save_screenshot(str(tmp_path / f"console-{host}.png"))
    assert page_problems(browser) == []

    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "a fresh, signed-out connection", lambda d: attribute(d, "body", "data-auth")
             == "signed-out" and attribute(d, "body", "data-connection") == "connected")
    assert run_script(browser, "40 + 2") == "refused"
    assert text(browser, "result-summary").startswith("Sign in first")


def test_a_stranger_is_told_they_are_not_a_member(
        circle: Server, browser: Any, wallet: Callable[[PrivateKey], None]) -> None:
    wallet(STRANGER)
    open_console(browser, f"http://127.0.0.1:{circle.port}/")
    sign_in(browser, STRANGER)
    assert attribute(browser, "body", "data-auth") == "not-member", page_state(browser)
    assert "not a member" in text(browser, "auth-state")
    assert run_script(browser, "40 + 2") == "refused"
    assert text(browser, "result-summary").startswith("Not a member")


def test_declining_in_the_wallet_is_reported_and_can_be_retried(
        circle: Server, browser: Any, wallet: Callable[[PrivateKey], None]) -> None:
    wallet(MEMBER)
    open_console(browser, f"http://127.0.0.1:{circle.port}/")
    browser.find_element(By.ID, "sign-in").click()
    request = wait_for(browser, "the wallet's personal_sign request", lambda d: d.execute_script(
        "return window.__testWallet.takeSignRequest();"))
    browser.execute_script("window.__testWallet.decline(arguments[0]);", request["id"])
    wait_until_attribute(browser, "body", "data-auth", "failed")
    assert text(browser, "auth-state") == "You declined the request in your wallet."
    sign_in(browser, MEMBER)
    assert attribute(browser, "body", "data-auth") == "signed-in", page_state(browser)


def test_without_a_wallet_the_page_says_so(circle: Server, browser: Any) -> None:
    open_console(browser, f"http://127.0.0.1:{circle.port}/")
    assert attribute(browser, "body", "data-auth") == "no-wallet"
    assert "No browser wallet found" in text(browser, "auth-state")
    assert run_script(browser, "40 + 2") == "refused"
    assert text(browser, "result-summary").startswith("Sign in first")


def test_a_play_nobody_answers_shows_the_worker_timeout(
        workerless: Server, browser: Any, wallet: Callable[[PrivateKey], None]) -> None:
    wallet(MEMBER)
    open_console(browser, f"http://127.0.0.1:{workerless.port}/")
    sign_in(browser, MEMBER)
    assert run_script(browser, "40 + 2") == "timeout"
    assert text(browser, "result-summary").startswith("Worker busy or stopped")


def test_a_stopped_server_shows_not_connected(redis_url: str, browser: Any) -> None:
    short_lived = Server(redis_url, OWNER)
    try:
        open_console(browser, f"http://127.0.0.1:{short_lived.port}/")
    finally:
        short_lived.stop()
    wait_until_attribute(browser, "body", "data-connection", "reconnecting")
    assert text(browser, "connection").startswith("Connection lost")
    assert not browser.find_element(By.ID, "run").is_enabled()


def test_a_page_from_another_origin_cannot_use_the_circle(
        circle: Server, browser: Any, foreign_site: Callable[[str], str]) -> None:
    browser.get(foreign_site(f"ws://127.0.0.1:{circle.port}/ws"))
    wait_for(browser, "the foreign page's WebSocket to settle",
             lambda d: attribute(d, "body", "data-outcome") != "pending")
    assert attribute(browser, "body", "data-outcome") == "refused"
