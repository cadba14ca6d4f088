"""Screenshots of the running app in headless Chromium (Debian's), driven by Playwright.

    python scripts/screenshot.py [URL] [--out docs/screenshot.png] [--question "..."]
    python scripts/screenshot.py --tab Evaluation --compare 2 --out docs/evaluation.png
    python scripts/screenshot.py --tab Training --out docs/training.png
    python scripts/screenshot.py --embed --out docs/embed.png
    python scripts/screenshot.py --page docs/embed/course-page.html --out docs/embed-page.png

Chat (the default): asks one question, waits for the answer to finish streaming, opens the first cited
source and saves a full-page PNG. `--tab`: opens that tab instead; on Evaluation, `--compare N` compares
the N newest runs first. `--embed`: the same on the iframe layout (URL/embed/) at a column's width.
`--page FILE`: opens a teaching page that frames the app (its iframe `#studio` pointed at URL/embed/ through
`?src=`), asks inside the frame and saves the whole page. Uses /usr/bin/chromium: Playwright's own browser
download is never needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def ask_and_wait(scope: Any, question: str, done_text: str, timeout: float) -> None:
    """Ask in `scope` (a page or a frame locator) and wait until the answer is final, then show a source."""
    from playwright.sync_api import expect

    expect(scope.locator("#mg-ask")).to_be_visible(timeout=60_000)
    scope.locator("#mg-question textarea").fill(question)
    scope.locator("#mg-ask").click()
    # An answer is final once the safety check has appended the disclaimer.
    expect(scope.locator("#mg-chat")).to_contain_text(done_text, timeout=timeout * 1000)
    if scope.locator("#mg-sources details[open]").count() == 0:
        scope.locator("#mg-sources summary").first.click()


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:7860/")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    ap.add_argument("--question", default="What are the warning signs of a stroke?")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--done-text", default="Educational information only",
                    help="Text that appears in the chat once the answer is final.")
    ap.add_argument("--timeout", type=float, default=180.0, help="Seconds to wait for the answer.")
    ap.add_argument("--tab", help="Screenshot this tab (Evaluation, Training) instead of asking a question.")
    ap.add_argument("--compare", type=int, default=0, help="Evaluation tab: compare this many newest runs.")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--embed", action="store_true", help="The iframe layout at URL/embed/, 460 px wide.")
    mode.add_argument("--page", type=Path, metavar="FILE",
                      help="An HTML page whose iframe #studio frames URL/embed/ (e.g. docs/embed/course-page.html).")
    args = ap.parse_args()
    base = args.url.rstrip("/") + "/"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        if args.embed:
            page = browser.new_page(viewport={"width": 460, "height": 900})
            page.goto(base + "embed/")
            ask_and_wait(page, args.question, args.done_text, args.timeout)
        elif args.page:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(args.page.resolve().as_uri() + "?src=" + base + "embed/")
            ask_and_wait(page.frame_locator("#studio"), args.question, args.done_text, args.timeout)
        else:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base, wait_until="networkidle")
            if args.tab:
                page.get_by_role("tab", name=args.tab).click()
                if args.compare:
                    box = page.locator("#mg-eval-runs input")
                    for i in range(args.compare):
                        box.click()
                        page.get_by_role("option").nth(i).click()
                    page.locator("#mg-eval-compare").click()
                    page.wait_for_timeout(4000)
            else:
                ask_and_wait(page, args.question, args.done_text, args.timeout)
        page.wait_for_timeout(1500)  # let the last render and any transition settle
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # A full-page capture resizes the viewport, which can blank an iframe: the page mode fits its viewport.
        page.screenshot(path=str(args.out), full_page=not args.page)
        browser.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
