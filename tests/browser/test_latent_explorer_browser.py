"""Notebook 07's widgets in a real browser: Playwright drives Debian's chromium in JupyterLab.

How to run (from the repository root):

    apt-get install chromium          # once; Debian's build, found on PATH as `chromium`
    .venv/bin/pytest -m browser tests/browser -v -s

Environment:
    VAE_BROWSER_ARTIFACTS  folder for screenshots, the latency JSON and the server log
                           (default: <repo>/test-artifacts/browser, git-ignored).
    CI                     when "true", a missing chromium or playwright fails the test
                           instead of skipping it.
    VAE_DATA_DIR, VAE_CACHE_DIR, VAE_OFFLINE
                           passed on to the notebook's kernel (data and checkpoints); with
                           notebook 06's checkpoints present the notebook only loads them.

What it does: starts JupyterLab on 127.0.0.1 with a random token in a temporary folder holding a
fresh copy of the notebook, opens it, waits for the kernel to be idle, runs all cells from the
Run menu, waits until every explorer has rendered (no "Loading widget" or "Error displaying
widget" anywhere), then moves a latent slider with the keyboard and by dragging, clicks the
latent map, and moves the interpolation slider. After each action it fetches the decoded
image's blob bytes in the page and checks that they changed, and at the end that the page
logged no console error and no uncaught exception. The time from each key press to the new
image's ``load`` event is measured in the page; the median is printed and written, with the
screenshots, to the artefacts folder (``browser_latency.json``).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDGET_CLASSES = ("vae-latent-sliders", "vae-latent-map", "vae-interpolation", "vae-traversal")
RUN_ALL_TIMEOUT_MS = 150_000
KEY_MOVES = 8

# Records, in page time (ms), every key press, every click and every load of a decoded image, so the
# latency from a slider event to the new picture is measured inside the browser.
INSTRUMENT_JS = """
() => {
  window.__vae = {keys: [], loads: []};
  document.addEventListener('keydown', () => window.__vae.keys.push(performance.now()), true);
  document.addEventListener('click', () => window.__vae.keys.push(performance.now()), true);
  for (const img of document.querySelectorAll('img.vae-decoded')) {
    img.addEventListener('load', () => window.__vae.loads.push(performance.now()));
  }
}
"""
# Milliseconds from the latest key press or click to the latest decoded-image load.
LAST_LATENCY_JS = """
() => { const v = window.__vae; return v.loads[v.loads.length - 1] - v.keys[v.keys.length - 1]; }
"""

# The bytes behind an ipywidgets.Image: its <img> shows a blob: URL; fetch it in the page.
IMAGE_BYTES_JS = """
async (img) => {
  const response = await fetch(img.src);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}
"""


def image_bytes(locator) -> str:
    return locator.evaluate(IMAGE_BYTES_JS)


def wait_for_new_bytes(locator, before: str, timeout_s: float = 15.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = image_bytes(locator)
        if now != before:
            return now
        time.sleep(0.05)
    raise AssertionError("the decoded image's bytes did not change")


def readout(box, index: int = 0) -> str:
    return box.locator(".widget-readout").nth(index).inner_text().replace("\u2212", "-")


def wait_for_readout(box, expected: str, index: int = 0, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if readout(box, index) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"slider readout stayed {readout(box, index)!r}, expected {expected!r}")


def wait_until_all_cells_ran(page, timeout_ms: int) -> None:
    """Every code cell shows an execution count and the kernel is idle again."""
    page.wait_for_function(
        """() => {
          const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
          const status = document.querySelector('#jp-main-statusbar')?.innerText || '';
          return prompts.length > 0
            && prompts.every(p => /\\[\\d+\\]/.test(p.innerText))
            && /Idle/.test(status);
        }""",
        timeout=timeout_ms,
        polling=500,
    )


def test_latent_explorer_in_jupyterlab(lab_server, chromium_path, artifacts_dir: Path):
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    console_errors: list[str] = []
    page_errors: list[str] = []
    latencies: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console",
                lambda message: console_errors.append(message.text)
                if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(lab_server.notebook_url(), wait_until="domcontentloaded")

            # 1. Kernel idle (a Run All issued before the kernel exists is dropped), then Run All.
            page.locator("#jp-main-statusbar").get_by_text(
                re.compile(r"Python 3 \(ipykernel\) \| Idle")
            ).wait_for(timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
            run_started = time.perf_counter()
            for css_class in WIDGET_CLASSES:
                page.locator(f".{css_class}").first.wait_for(
                    state="attached", timeout=RUN_ALL_TIMEOUT_MS
                )
            wait_until_all_cells_ran(page, RUN_ALL_TIMEOUT_MS)
            run_all_s = time.perf_counter() - run_started

            # 2. Every widget rendered; no error output in any cell.
            page.wait_for_function(
                """() => !/Loading widget|Error displaying widget/.test(document.body.innerText)""",
                timeout=30_000,
            )
            assert page.locator(".jp-OutputArea-output[data-mime-type="
                                "'application/vnd.jupyter.error']").count() == 0
            for css_class in WIDGET_CLASSES:
                box = page.locator(f".{css_class}").first
                box.scroll_into_view_if_needed()
                assert box.is_visible(), f".{css_class} is not visible"
                box.screenshot(path=str(artifacts_dir / f"{css_class}-rendered.png"))
            page.evaluate(INSTRUMENT_JS)

            # 3. A latent slider, moved with the keyboard: one decode per key press.
            sliders = page.locator(".vae-latent-sliders").first
            sliders.scroll_into_view_if_needed()
            decoded = sliders.locator("img.vae-decoded")
            handle = sliders.locator(".noUi-handle").first
            handle.focus()
            keyboard_ms = []
            for move in range(KEY_MOVES):
                key = "ArrowRight" if move < KEY_MOVES // 2 + 1 else "ArrowLeft"
                before_bytes, before_value = image_bytes(decoded), float(readout(sliders))
                loads_before = page.evaluate("window.__vae.loads.length")
                page.keyboard.press(key)
                wait_for_new_bytes(decoded, before_bytes)
                assert float(readout(sliders)) != before_value
                page.wait_for_function(f"window.__vae.loads.length > {loads_before}")
                keyboard_ms.append(page.evaluate(LAST_LATENCY_JS))
            latencies["keyboard_ms"] = keyboard_ms
            sliders.screenshot(path=str(artifacts_dir / "sliders-after-keyboard.png"))

            # 4. The same slider, dragged with the mouse.
            before_bytes, before_value = image_bytes(decoded), readout(sliders)
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 60, y, steps=10)
            page.mouse.up()
            wait_for_new_bytes(decoded, before_bytes)
            assert readout(sliders) != before_value
            sliders.screenshot(path=str(artifacts_dir / "sliders-after-drag.png"))

            # 5. A click on the latent map decodes the clicked point and moves the marker.
            latent_map = page.locator(".vae-latent-map").first
            latent_map.scroll_into_view_if_needed()
            map_decoded = latent_map.locator("img.vae-decoded")
            map_picture = latent_map.locator("img.vae-map-image")
            status = latent_map.locator(".vae-status")
            clicks_before = int(re.search(r"clicks: (\d+)", status.inner_text()).group(1))
            clicks_ms = []
            for position in ({"x": 80, "y": 230}, {"x": 230, "y": 90}):
                before_bytes, before_map = image_bytes(map_decoded), image_bytes(map_picture)
                loads_before = page.evaluate("window.__vae.loads.length")
                map_picture.click(position=position)
                wait_for_new_bytes(map_decoded, before_bytes)
                wait_for_new_bytes(map_picture, before_map)
                page.wait_for_function(f"window.__vae.loads.length > {loads_before}")
                clicks_ms.append(page.evaluate(LAST_LATENCY_JS))
            latencies["map_click_ms"] = clicks_ms
            assert f"clicks: {clicks_before + 2}" in status.inner_text()
            latent_map.screenshot(path=str(artifacts_dir / "map-after-click.png"))

            # 6. The interpolation slider t.
            interpolation = page.locator(".vae-interpolation").first
            interpolation.scroll_into_view_if_needed()
            interp_decoded = interpolation.locator("img.vae-decoded")
            t_handle = interpolation.locator(".vae-slider-t .noUi-handle")
            t_handle.focus()
            t_ms = []
            for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "End", "Home"):
                before_bytes = image_bytes(interp_decoded)
                loads_before = page.evaluate("window.__vae.loads.length")
                page.keyboard.press(key)
                wait_for_new_bytes(interp_decoded, before_bytes)
                page.wait_for_function(f"window.__vae.loads.length > {loads_before}")
                t_ms.append(page.evaluate(LAST_LATENCY_JS))
            wait_for_readout(interpolation, "0.00")
            latencies["interpolation_keyboard_ms"] = t_ms
            interpolation.screenshot(path=str(artifacts_dir / "interpolation-after-keys.png"))
            page.screenshot(path=str(artifacts_dir / "page.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(artifacts_dir / "failure.png"), full_page=False)
            raise
        finally:
            browser.close()

    all_keys = latencies["keyboard_ms"] + latencies["interpolation_keyboard_ms"]
    report = {
        "what": "page time from a key press (or the click on the map) to the load event "
                "of the new decoded image, in milliseconds",
        "median_slider_keyboard_ms": statistics.median(latencies["keyboard_ms"]),
        "median_interpolation_keyboard_ms": statistics.median(
            latencies["interpolation_keyboard_ms"]
        ),
        "median_all_keyboard_ms": statistics.median(all_keys),
        "median_map_click_ms": statistics.median(latencies["map_click_ms"]),
        "samples": latencies,
        "run_all_cells_s": round(run_all_s, 1),
        "test_wall_s": round(time.perf_counter() - started, 1),
    }
    (artifacts_dir / "browser_latency.json").write_text(json.dumps(report, indent=2))
    print(
        f"\nin-page latency, key press -> new image: median {report['median_all_keyboard_ms']:.1f}"
        f" ms over {len(all_keys)} moves; map click -> new image: median "
        f"{report['median_map_click_ms']:.1f} ms; Run All took {run_all_s:.1f} s; "
        f"artefacts in {artifacts_dir}"
    )
    assert not page_errors, f"uncaught exceptions in the page: {page_errors}"
    assert not console_errors, f"console errors in the page: {console_errors}"
