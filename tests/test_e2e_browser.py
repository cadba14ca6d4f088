"""The running app in a real browser: headless Debian Chromium driven by Playwright's sync API.

The app is started as `python app.py` on a free port with the default models, as a visitor would meet it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from medgemma.config import ROOT
from medgemma.safety import DISCLAIMER, check_question, decide

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

CACHE = ROOT / "cache"  # the assembled GGUF and the converted hf model are reused across runs
DONE = DISCLAIMER.split(",")[0]  # "Educational information only": appended once the answer is final
QUESTION = "What are the warning signs of a stroke?"
EMERGENCY = "I took 40 paracetamol tablets an hour ago"
ANSWER_S = 180  # generous: the CPU may be shared
BOT = '#mg-chat [data-testid="bot"]'


def _chromium_args() -> list[str]:
    """The launch flags scripts/screenshot.py uses, so tests and screenshots run the same browser."""
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "scripts" / "screenshot.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.CHROMIUM_ARGS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_app(tmp: Path, **extra: str) -> Iterator[str]:
    """Run app.py until the generator is closed; yields its base URL once /health says "ok"."""
    port = _free_port()
    env = dict(os.environ, MEDGEMMA_PORT=str(port), MEDGEMMA_HOST="127.0.0.1", MEDGEMMA_CACHE_DIR=str(CACHE),
               MEDGEMMA_INDICES_DIR=str(tmp / "indices"), MEDGEMMA_MAX_NEW_TOKENS="48",
               GRADIO_ANALYTICS_ENABLED="False", **extra)
    log_path = tmp / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 180
            status = ""
            while status != "ok":
                if proc.poll() is not None:
                    pytest.fail("app exited: " + log_path.read_text()[-2000:])
                if time.time() > deadline:
                    pytest.fail("app not ready in 3 minutes: " + log_path.read_text()[-2000:])
                try:
                    status = httpx.get(url + "/health", timeout=5).json().get("status", "")
                except (httpx.HTTPError, ValueError):
                    status = ""
                if status == "error":
                    pytest.fail("app failed to load: " + log_path.read_text()[-2000:])
                if status != "ok":
                    time.sleep(1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with its default settings."""
    yield from _start_app(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def public_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second app in public mode, with an admin token."""
    yield from _start_app(tmp_path_factory.mktemp("public"), MEDGEMMA_PUBLIC="1", MEDGEMMA_ADMIN_TOKEN="test-token-for-the-e2e-run")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=_chromium_args(), headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own Gradio session) at a desktop size."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    p = context.new_page()
    yield p
    context.close()


def visit(p: Any, url: str) -> None:
    """Open a page of the app and wait until it can take a question."""
    p.goto(url)
    expect(p.locator("#mg-ask")).to_be_visible()


def ask(scope: Any, question: str) -> None:
    """Type a question and press Ask; `scope` is a page or a frame locator."""
    scope.locator("#mg-question textarea").fill(question)
    scope.locator("#mg-ask").click()


def final_answer(scope: Any) -> str:
    """Wait for the last assistant message to carry the disclaimer and return its text."""
    last = scope.locator(BOT).last
    expect(last).to_contain_text(DONE, timeout=ANSWER_S * 1000)
    return last.inner_text()


# Records every distinct text of the last assistant message as it changes.
WATCH_JS = """(sel) => {
  window.__snaps = [];
  const chat = document.querySelector('#mg-chat');
  new MutationObserver(() => {
    const bots = chat.querySelectorAll(sel);
    const text = bots.length ? bots[bots.length - 1].innerText : '';
    if (text && text !== window.__snaps[window.__snaps.length - 1]) window.__snaps.push(text);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def answered(browser: Any, app_url: str) -> Iterator[dict[str, Any]]:
    """One question asked on the full app, with what the page showed before and while it was answered."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    p = context.new_page()
    visit(p, app_url + "/")
    banner_before = p.locator("#mg-safety-banner")
    expect(banner_before).to_be_visible()
    before = {"text": banner_before.inner_text(), "class": banner_before.get_attribute("class")}
    p.evaluate(WATCH_JS, '[data-testid="bot"]')
    ask(p, QUESTION)
    final = final_answer(p)
    yield {"page": p, "final": final, "snaps": p.evaluate("window.__snaps"), "banner_before": before}
    context.close()


def test_answer_streams_and_ends_with_the_disclaimer(answered: dict[str, Any]) -> None:
    """The answer grows on screen in several steps and the final text ends with the disclaimer."""
    snaps = [s for s in answered["snaps"] if DONE not in s]
    lengths = [len(s) for s in snaps]
    assert len(set(lengths)) >= 2, f"the answer did not stream: {lengths}"
    assert lengths[-1] > lengths[0]
    final = answered["final"]
    assert final.rstrip().endswith(DISCLAIMER)
    assert len(final.replace(DISCLAIMER, "").strip()) > 0


def test_sources_list_passages_and_open_on_click(answered: dict[str, Any]) -> None:
    """The sources panel lists the passages; a card opens to its quote and links to an https source."""
    p = answered["page"]
    cards = p.locator("#mg-sources details.mg-source")
    assert cards.count() >= 1
    closed = p.locator("#mg-sources details.mg-source:not([open])")
    card = p.locator("#" + (closed.first if closed.count() else cards.first).get_attribute("id"))
    if card.get_attribute("open") is not None:  # every card is cited, so open: close one first
        card.locator("summary").click()
    quote = card.locator("blockquote")
    expect(quote).to_be_hidden()
    card.locator("summary").click()
    expect(quote).to_be_visible()
    assert quote.inner_text().strip()
    assert (card.locator(".mg-meta a").get_attribute("href") or "").startswith("https://")


def test_cited_cards_are_open_and_marked(answered: dict[str, Any]) -> None:
    """Every number the answer cites has an open card with the "cited" badge."""
    cited = {int(n) for group in re.findall(r"\[([\d,\s]+)\]", answered["final"]) for n in re.findall(r"\d+", group)}
    assert cited, "the answer should cite at least one passage"
    p = answered["page"]
    for n in cited:
        card = p.locator(f"#mg-source-{n}")
        expect(card).to_have_attribute("open", "")
        expect(card.locator(".mg-cited")).to_be_visible()


def test_banner_is_shown_before_and_after_asking(answered: dict[str, Any]) -> None:
    """The safety banner is there from the start and stays after an ordinary answer."""
    before = answered["banner_before"]
    assert "Educational use only" in before["text"]
    assert "mg-ok" in before["class"]
    banner = answered["page"].locator("#mg-safety-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Educational use only")
    expect(banner).to_have_class(re.compile(r"\bmg-ok\b"))


def test_emergency_turns_the_banner_red_at_once(page: Any, app_url: str) -> None:
    """An emergency is answered with the emergency message (no generation) and the banner switches."""
    message = decide(EMERGENCY).message  # the browser's region may pick the number; the sign comes first
    assert check_question(EMERGENCY).action == "emergency"
    visit(page, app_url + "/")
    ask(page, EMERGENCY)
    banner = page.locator("#mg-safety-banner")
    expect(banner).to_have_class(re.compile(r"\bmg-emergency\b"), timeout=15_000)
    expect(banner).to_contain_text("Emergency")
    first_sentence = message.split(".")[0]  # what was recognised
    expect(page.locator(BOT).last).to_contain_text(first_sentence, timeout=15_000)
    expect(page.locator(BOT).last).to_contain_text("911")


def test_embed_layout_is_the_chat_only(page: Any, app_url: str) -> None:
    """/embed/ shows the banner, chat and sources, none of the app's tabs or panels, and answers."""
    page.set_viewport_size({"width": 460, "height": 900})
    visit(page, app_url + "/embed/")
    for sel in ("#mg-safety-banner", "#mg-chat", "#mg-question textarea", "#mg-ask", "#mg-sources"):
        expect(page.locator(sel)).to_be_visible()
    expect(page.locator("#mg-safety-banner")).to_contain_text("Educational use only")
    assert page.get_by_role("tab").count() == 0
    panel = lambda name: page.get_by_role("button", name=re.compile(rf"^{name}\b"))  # noqa: E731 - accordions
    expect(panel("Sources")).to_have_count(1)
    for name in ("Model", "Knowledge base", "Settings", "Attach an image"):
        expect(panel(name)).to_have_count(0)
    expect(page.locator("#mg-status")).to_have_count(0)
    ask(page, QUESTION)
    assert final_answer(page).strip()
    expect(page.locator("#mg-sources details.mg-source").first).to_be_visible()


def test_course_page_embeds_the_studio(page: Any, app_url: str) -> None:
    """The sample teaching page frames /embed/ (its ?src= points there) and the frame shows the banner."""
    page.set_viewport_size({"width": 1280, "height": 1000})
    src = app_url + "/embed/"
    page.goto((ROOT / "docs" / "embed" / "course-page.html").as_uri() + "?src=" + src)
    expect(page.locator("#studio")).to_be_visible()
    expect(page.locator("#studio")).to_have_attribute("src", src)
    frame = page.frame_locator("#studio")
    expect(frame.locator("#mg-safety-banner")).to_be_visible(timeout=60_000)
    expect(frame.locator("#mg-safety-banner")).to_contain_text("Educational use only")
    expect(frame.locator("#mg-question textarea")).to_be_visible()


def _load_backend(page: Any, name: str, timeout_s: float) -> None:
    page.get_by_role("radio", name=name, exact=True).check()
    page.locator("#mg-load-model").click()
    expect(page.locator("#mg-status")).to_contain_text(f"Switched to {name}", timeout=timeout_s * 1000)


def test_switching_backend_to_hf_and_back(page: Any, app_url: str) -> None:
    """The Model panel loads the transformers backend (converting the embedded GGUF once), which answers;
    then GGUF again."""
    visit(page, app_url + "/")
    expect(page.locator("#mg-status")).to_contain_text("gguf")
    page.get_by_text("Model", exact=True).click()
    try:
        _load_backend(page, "hf", timeout_s=360)  # the first time converts the GGUF (~100 s)
        ask(page, QUESTION)
        assert final_answer(page).replace(DISCLAIMER, "").strip()
        expect(page.locator("#mg-status")).to_contain_text("hf ·")
    finally:
        _load_backend(page, "gguf", timeout_s=120)
    assert httpx.get(app_url + "/health", timeout=10).json()["backend"].startswith("gguf")


def test_public_mode_locks_training_until_admin_signs_in(page: Any, public_url: str) -> None:
    """In public mode Training's start button is disabled until the admin token is entered; chat still works."""
    visit(page, public_url + "/")
    page.get_by_role("tab", name="Training").click()
    start = page.get_by_role("button", name="Start or resume")
    expect(start).to_be_disabled()
    page.get_by_text("Admin sign-in", exact=True).click()
    page.locator("#mg-admin-token input").fill("test-token-for-the-e2e-run")
    page.locator("#mg-admin-sign-in").click()
    expect(start).to_be_enabled()
    page.get_by_role("tab", name="Chat").click()
    ask(page, QUESTION)
    assert final_answer(page).replace(DISCLAIMER, "").strip()
