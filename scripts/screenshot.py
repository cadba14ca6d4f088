"""Screenshots of the running app in headless Chromium (Debian's), driven by Playwright.

    python scripts/screenshot.py [URL] [--out docs/screenshot.png] [--question "..."]
    python scripts/screenshot.py --tab Evaluation --compare 2 --out docs/evaluation.png
    python scripts/screenshot.py --tab Training --out docs/training.png

Chat (the default): asks one question, waits for the answer to finish streaming, opens the first cited
source and saves a full-page PNG. `--tab`: opens that tab instead; on Evaluation, `--compare N` compares
the N newest runs first. Uses /usr/bin/chromium: Playwright's own browser download is never needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:7860/")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    ap.add_argument("--question", default="What are the warning signs of a stroke?")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--done-text", default="Educational information only",
                    help="Text that appears in the chat once the answer is final.")
    ap.add_argument("--timeout", type=float, default=180.0, help="Seconds to wait for the answer.")
    ap.add_argument("--tab", help="Screenshot this tab (Evaluation, Training) instead of asking a question.")
    ap.add_argument("--compare", type=int, default=0, help="Evaluation tab: compare this many newest runs.")
    args = ap.parse_args()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(args.url, wait_until="networkidle")
        if args.tab:
            page.get_by_role("tab", name=args.tab).click()
            if args.compare:
                box = page.locator("#mg-eval-runs input")
                for i in range(args.compare):
                    box.click()
                    page.get_by_role("option").nth(i).click()
                page.locator("#mg-eval-compare").click()
                page.wait_for_timeout(4000)
            page.wait_for_timeout(1500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
            print(f"saved {args.out}")
            return
        page.locator("#mg-question textarea").fill(args.question)
        page.locator("#mg-ask").click()
        # An answer is final once the safety check has appended the disclaimer.
        page.wait_for_function(
            "(t) => (document.querySelector('#mg-chat')?.innerText || '').includes(t)",
            arg=args.done_text, timeout=args.timeout * 1000,
        )
        cited = page.locator("#mg-sources details[open]")
        if cited.count() == 0:
            page.locator("#mg-sources summary").first.click()
        page.wait_for_timeout(1000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
