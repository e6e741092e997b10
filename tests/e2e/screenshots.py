"""Screenshots of every dashboard page (tests/e2e/pages.py lists them from the blueprints)
at 1366×768 and at 390×844 in Persian, light, and dark for a few, into artifacts/screenshots/;
the desktop models page also becomes the README's picture, docs/images/models-page.png.

    make screenshots            # or: .venv/bin/python -m tests.e2e.screenshots

The demo data (``flask seed-demo``) plus a personal key, an API token and two live models, on
a throwaway SQLite file, served on a loopback port; Debian's chromium through Playwright.
Looked at, not compared: the browser tests assert what matters."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import select

from tests.conftest import LiveServer, make_config
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS
from tests.e2e.pages import busy_demo, dashboard_pages, page_ids
from webapp import create_app
from webapp.extensions import db
from webapp.models.admin import Admin
from webapp.operations.demo import DEMO_PASSWORD, seed_demo

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
DARK = ("dashboard-index", "models-index", "providers-index", "history-index", "usage-index")
README_PICTURE = ROOT / "docs" / "images" / "models-page.png"


def demo_data() -> dict[str, object]:
    seed_demo()
    boss = db.session.scalar(select(Admin).where(Admin.username == "admin"))
    provider = busy_demo(boss)
    return page_ids(provider.id, boss.id)


def shoot(page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), caret="initial")
    return path


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'screenshots.db'}"
        app = create_app(make_config(url, TESTING=False))
        with app.app_context():
            db.create_all()
            pages = dashboard_pages(app, demo_data())
            db.session.remove()
        with LiveServer(app) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shots = []
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, locale="fa-IR")
                page = context.new_page()
                page.goto(server("/login"))
                shots.append(shoot(page, f"{size}-login"))
                page.fill("#username", "admin")
                page.fill("#password", DEMO_PASSWORD)
                page.click("#main button[type=submit]")
                page.wait_for_url(server("/"))
                for name, path in pages:
                    page.goto(server(path))
                    shots.append(shoot(page, f"{size}-{name}"))
                    if name in DARK:
                        page.emulate_media(color_scheme="dark")
                        shots.append(shoot(page, f"{size}-{name}-dark"))
                        page.emulate_media(color_scheme="light")
                if size == "phone":
                    page.goto(server("/models"))
                    page.get_by_role("button", name="منو").click()
                    shots.append(shoot(page, "phone-menu-open"))
                    page.get_by_role("button", name="منو").click()
                    page.get_by_role("button", name="فیلترها").click()
                    shots.append(shoot(page, "phone-models-filters-open"))
                context.close()
            browser.close()
    shutil.copyfile(SCREENSHOTS / "desktop-models-index.png", README_PICTURE)
    sizes = sorted((path.stat().st_size, path.name) for path in shots)
    print(f"{len(shots)} screenshots in {SCREENSHOTS.relative_to(ROOT)}/, largest:")
    for size, name in sizes[-3:]:
        print(f"  {name}: {size // 1024} KB")


if __name__ == "__main__":
    main()
