"""The upload page of ``imgpipe serve`` (imgpipe/local/web), driven in Chromium like a user would."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .support import RESULT_DEADLINE_MS, ROOT, Served, jpeg_bytes, require_chromium

require_chromium()  # or skip this module
pytestmark = pytest.mark.xdist_group("browser")  # one worker: one Chromium, one set of stacks

SAMPLE = ROOT / "samples" / "ladybird.jpg"
WORKFLOW_STEPS = ["ParseEvent", "ClaimImage", "Resize", "Watermark", "Metadata", "Done"]
ALL_THUMBNAILS_LOADED = """card => [...card.querySelectorAll('.rendition img')]
    .every(img => img.complete && img.naturalWidth > 0)"""


def api_get(served: Served, path: str) -> dict[str, Any]:
    """The API's own answer, to compare the page with."""
    headers = {"x-api-key": served.api_key} if served.api_key else {}
    with urllib.request.urlopen(urllib.request.Request(served.api_url + path, headers=headers), timeout=10) as r:
        return json.loads(r.read())


def finished_card(page: Any, name: str, status: str) -> Any:
    card = page.locator(".upload", has=page.locator(".filename", has_text=name))
    expect(card).to_have_attribute("data-status", status, timeout=RESULT_DEADLINE_MS)
    return card


def assert_renditions_shown(page: Any, card: Any, served: Served) -> dict[str, Any]:
    """Every rendition the API lists is on the card as a loaded thumbnail at its own size, linking to
    the full image."""
    image = api_get(served, f"/images/{card.get_attribute('data-image-id')}")
    assert image["status"] == "COMPLETE"
    thumbnails = card.locator(".rendition img")
    expect(thumbnails).to_have_count(len(image["renditions"]))
    page.wait_for_function(ALL_THUMBNAILS_LOADED, arg=card.element_handle(), timeout=RESULT_DEADLINE_MS)
    sizes = thumbnails.evaluate_all("imgs => imgs.map(img => [img.naturalWidth, img.naturalHeight])")
    assert sizes == [[r["width"], r["height"]] for r in image["renditions"]]
    links = card.locator(".rendition a").evaluate_all("links => links.map(a => a.href)")
    assert [urlsplit(link).path for link in links] == [urlsplit(r["url"]).path for r in image["renditions"]]
    return image


def test_a_jpeg_chosen_on_the_page_ends_complete_with_renditions_facts_and_steps(
    page: Any, served: Served, artifacts: Path
) -> None:
    page.goto(served.api_url + "/")
    expect(page.locator("#api-url")).to_have_value(served.api_url)  # the page's own origin by default

    page.set_input_files("#files", str(SAMPLE))
    card = finished_card(page, SAMPLE.name, "COMPLETE")

    # The bar is driven by XMLHttpRequest upload progress events, which reached the whole file.
    expect(card).to_have_attribute("data-uploaded-bytes", str(SAMPLE.stat().st_size))
    image = assert_renditions_shown(page, card, served)
    original = image["original"]
    expect(card.locator(".fact-format")).to_have_text("JPEG (image/jpeg)")
    expect(card.locator(".fact-dimensions")).to_contain_text(f"{original['width']} × {original['height']} px")
    expect(card.locator(".fact-orientation")).to_have_text("upright (EXIF 1)")
    expect(card.locator(".fact-frames")).to_have_text("1")

    execution = card.locator(".execution")
    expect(execution).to_have_attribute("data-status", "SUCCEEDED", timeout=RESULT_DEADLINE_MS)
    expect(execution.locator(".step-name")).to_have_text(WORKFLOW_STEPS)
    expect(execution.locator(".step-status")).to_have_text(["SUCCEEDED"] * len(WORKFLOW_STEPS))
    expect(execution.locator(".step-retries")).to_have_text(["0"] * len(WORKFLOW_STEPS))
    expect(execution.locator(".step-duration").first).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d\d s$"))

    page.screenshot(path=artifacts / "web-page.png", full_page=True)


def test_a_text_file_named_jpg_ends_failed_with_its_code_and_message(page: Any, served: Served, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("meeting notes, not a photo\n" * 20)
    page.goto(served.api_url + "/")

    page.set_input_files("#files", str(notes))
    card = finished_card(page, notes.name, "FAILED")

    error = api_get(served, f"/images/{card.get_attribute('data-image-id')}")["error"]
    assert error["code"] == "NOT_AN_IMAGE"
    expect(card.locator(".failure .code")).to_have_text("NOT_AN_IMAGE")
    expect(card.locator(".failure .message")).to_have_text(error["message"])  # the API's words for it
    expect(card.locator(".rendition")).to_have_count(0)
    execution = card.locator(".execution")
    expect(execution).to_have_attribute("data-status", "FAILED", timeout=RESULT_DEADLINE_MS)
    resize = execution.locator(".step", has=page.locator(".step-name", has_text="Resize"))
    expect(resize.locator(".step-status")).to_have_text("FAILED")
    expect(resize.locator(".step-errors")).to_have_text("NOT_AN_IMAGE")


def test_two_files_chosen_at_once_both_end_complete(page: Any, served: Served, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jpg", tmp_path / "second.jpg"
    first.write_bytes(jpeg_bytes(900, 600))
    second.write_bytes(jpeg_bytes(600, 900))
    page.goto(served.api_url + "/")

    page.set_input_files("#files", [str(first), str(second)])

    cards = [finished_card(page, path.name, "COMPLETE") for path in (first, second)]
    assert cards[0].get_attribute("data-image-id") != cards[1].get_attribute("data-image-id")
    for card in cards:
        assert_renditions_shown(page, card, served)


def test_two_files_dropped_on_the_page_both_end_complete(page: Any, served: Served) -> None:
    page.goto(served.api_url + "/")
    files = [["dropped-a.jpg", jpeg_bytes(800, 500)], ["dropped-b.jpg", jpeg_bytes(500, 800)]]
    data_transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const [name, data] of files) {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
            }
            return transfer;
        }""",
        [[name, base64.b64encode(data).decode()] for name, data in files],
    )

    page.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": data_transfer})

    for name, data in files:
        card = finished_card(page, name, "COMPLETE")
        expect(card).to_have_attribute("data-uploaded-bytes", str(len(data)))
        assert_renditions_shown(page, card, served)


def test_the_page_uses_the_api_url_and_key_it_remembers(
    page: Any, served: Served, served_with_key: Served, jpeg_file: Path
) -> None:
    """The page of one stack drives another stack's API (another origin) with its key, as it would a
    deployed stack's, and keeps both settings across a reload."""
    page.goto(served.api_url + "/")
    page.fill("#api-url", served_with_key.api_url + "/")
    page.fill("#api-key", "not-the-key")
    page.set_input_files("#files", str(jpeg_file))
    refused = finished_card(page, jpeg_file.name, "FAILED")
    expect(refused.locator(".failure .code")).to_have_text("FORBIDDEN")

    page.fill("#api-key", served_with_key.api_key)
    page.reload()
    expect(page.locator("#api-url")).to_have_value(served_with_key.api_url + "/")
    expect(page.locator("#api-key")).to_have_value("not-the-key")  # only an upload or a change saves

    page.fill("#api-key", served_with_key.api_key)
    page.locator("#api-key").dispatch_event("change")
    page.reload()
    expect(page.locator("#api-key")).to_have_value(served_with_key.api_key)

    page.set_input_files("#files", str(jpeg_file))
    card = page.locator(".upload").first
    expect(card).to_have_attribute("data-status", "COMPLETE", timeout=RESULT_DEADLINE_MS)
    assert_renditions_shown(page, card, served_with_key)
    expect(card.locator(".execution")).to_have_attribute("data-status", "SUCCEEDED", timeout=RESULT_DEADLINE_MS)
