"""What every browser test file checks the same way: axe-core and review screenshots."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

_axe = Axe()
# The page's finite animations and transitions, ended (a spinner's never ends: not awaited).
SETTLED = """Promise.allSettled(document.getAnimations()
  .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
  .map((a) => a.finished))"""


def assert_accessible(page, what: str) -> None:
    """No serious or critical axe-core violation on the page as it stands, once its CSS
    transitions have ended (a button's colours half-way through one fail the contrast
    check on a loaded machine, where the check can land inside the 0.15 s)."""
    page.evaluate(SETTLED)
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{what}: " + "\n".join(bad)


def shoot(page, screenshots, name: str, full_page: bool = False) -> None:
    """A review screenshot (looked at, not compared)."""
    # caret="initial": Playwright's caret-hiding <style> would trip the CSP check.
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=full_page, caret="initial")
