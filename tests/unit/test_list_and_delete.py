"""GET /images and DELETE /images/{imageId} at the logic level, on the in-memory fakes: pages across
the owner index, owners kept apart, cursors that cannot be forged into a DynamoDB error, and a
delete that marks first, removes every file, tells subscribers and can be finished when interrupted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.api.deletion import delete_image
from functions.api.listing import LIST_MAX_READS, decode_cursor, encode_cursor, list_images
from functions.api.logic import Api, BadRequest
from functions.api.status import image_status
from imgpipe import config
from imgpipe.delivery import RenditionDelivery
from imgpipe.errors import TransientError
from tests.fakes import FakeImages, FakeStore, NoPresigner

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ALICE, BOB = "sub-alice", "sub-bob"


class ThrottledOnce:
    """A FakeStore whose first DeleteObjects is throttled, as S3 can answer SlowDown."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.throttled = False

    def delete(self, bucket: str, keys: list[str]) -> None:
        if not self.throttled:
            self.throttled = True
            raise TransientError("SlowDown")
        self.store.delete(bucket, keys)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class RecordingInvalidator:
    def __init__(self) -> None:
        self.paths: list[list[str]] = []

    def invalidate(self, paths: list[str]) -> None:
        self.paths.append(paths)


@pytest.fixture
def api() -> Api:
    return Api(
        config.PipelineSettings(),
        "in",
        "out",
        FakeImages(),
        NoPresigner(),
        delivery=RenditionDelivery("cdn", "out", "https://cdn.example", 3600, None),
        files=FakeStore(),
        invalidator=RecordingInvalidator(),
    )


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_image(api: Api, n: int, owner: str = ALICE, status: str = "COMPLETE", age_s: int | None = None) -> str:
    """Image number n, created n minutes before NOW unless ``age_s`` says otherwise."""
    image_id = f"{n:032x}"
    created = NOW - timedelta(seconds=age_s if age_s is not None else 60 * n + 3600)
    record = {
        "imageId": image_id,
        "owner": owner,
        "status": status,
        "createdAt": stamp(created),
        "updatedAt": stamp(created),
        "upload": {"key": f"uploads/{image_id}/p{n}.jpg", "filename": f"p{n}.jpg"},
    }
    if status == "AWAITING_UPLOAD":
        record["ttl"] = int((created + timedelta(days=1)).timestamp())
    if status == "COMPLETE":
        record["renditions"] = [
            {"name": "small", "key": f"renditions/{image_id}/small.jpg", "width": 320, "height": 200,
             "format": "jpeg", "contentType": "image/jpeg", "bytes": 100, "watermarked": False},
        ]  # fmt: skip
        record["source"] = {"bucket": "in", "key": record["upload"]["key"], "eTag": "e"}
    api.images.records[image_id] = record
    return image_id


# ---- list ----------------------------------------------------------------------------------------
def test_pages_follow_each_other_newest_first_without_gaps_or_repeats(api: Api):
    ids = [add_image(api, n) for n in range(25)]  # image 0 is the newest
    seen, cursor, pages = [], None, 0
    while True:
        page = list_images(api, owner=ALICE, limit="10", cursor=cursor, now=NOW)
        pages += 1
        seen += [item["imageId"] for item in page["items"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3


def test_a_listed_image_has_its_name_times_and_stable_rendition_urls(api: Api):
    image_id = add_image(api, 1)
    (item,) = list_images(api, owner=ALICE, now=NOW)["items"]
    assert item["imageId"] == image_id and item["status"] == "COMPLETE" and item["filename"] == "p1.jpg"
    assert item["createdAt"] and item["updatedAt"]
    assert item["renditions"][0]["url"] == f"https://cdn.example/renditions/{image_id}/small.jpg"


def test_each_owner_lists_only_their_own_images(api: Api):
    alices = {add_image(api, n, ALICE) for n in range(3)}
    bobs = {add_image(api, n, BOB) for n in range(3, 5)}
    assert {i["imageId"] for i in list_images(api, owner=ALICE, now=NOW)["items"]} == alices
    assert {i["imageId"] for i in list_images(api, owner=BOB, now=NOW)["items"]} == bobs
    assert list_images(api, owner="someone-else", now=NOW) == {"items": []}


def test_another_owners_image_is_404_for_read_and_delete_and_stays(api: Api):
    image_id = add_image(api, 1, ALICE)
    assert image_status(api, image_id, owner=BOB, now=NOW) is None
    assert delete_image(api, image_id, owner=BOB, now=NOW) is False
    assert api.images.records[image_id]["status"] == "COMPLETE"
    assert image_status(api, image_id, owner=ALICE, now=NOW)["status"] == "COMPLETE"


def test_a_cursor_only_continues_the_callers_own_list(api: Api):
    for n in range(4):
        add_image(api, n, ALICE)
    cursor = list_images(api, owner=ALICE, limit="2", now=NOW)["nextCursor"]
    # the cursor names no owner: used by Bob it positions inside Bob's (empty) list
    assert list_images(api, owner=BOB, cursor=cursor, now=NOW) == {"items": []}


def test_a_status_filter_fills_the_page_across_reads_and_pages_on_correctly(api: Api):
    for n in range(30):
        add_image(api, n, status="COMPLETE" if n % 3 == 0 else "FAILED")
    wanted = [f"{n:032x}" for n in range(30) if n % 3 == 0]
    page = list_images(api, owner=ALICE, limit="4", status="COMPLETE", now=NOW)
    assert [i["imageId"] for i in page["items"]] == wanted[:4]  # five reads found all four
    found = [i["imageId"] for i in page["items"]]
    while "nextCursor" in page:
        page = list_images(api, owner=ALICE, limit="4", cursor=page["nextCursor"], status="COMPLETE", now=NOW)
        assert len(page["items"]) <= 4
        found += [i["imageId"] for i in page["items"]]
    assert found == wanted


def test_a_sparse_status_gives_a_short_page_with_a_cursor_that_finds_the_rest(api: Api):
    many = 10 * (LIST_MAX_READS + 2)
    for n in range(many):
        add_image(api, n, status="FAILED")
    rare = add_image(api, many, status="COMPLETE")  # the oldest
    page = list_images(api, owner=ALICE, limit="10", status="COMPLETE", now=NOW)
    found = [i["imageId"] for i in page["items"]]
    while "nextCursor" in page:
        page = list_images(api, owner=ALICE, limit="10", cursor=page["nextCursor"], status="COMPLETE", now=NOW)
        found += [i["imageId"] for i in page["items"]]
    assert found == [rare]


def test_expired_upload_urls_list_as_expired_and_filter_as_such(api: Api):
    fresh = add_image(api, 1, status="AWAITING_UPLOAD", age_s=10)
    stale = add_image(api, 2, status="AWAITING_UPLOAD", age_s=3600)
    statuses = {i["imageId"]: i["status"] for i in list_images(api, owner=ALICE, now=NOW)["items"]}
    assert statuses == {fresh: "AWAITING_UPLOAD", stale: "EXPIRED"}
    assert [i["imageId"] for i in list_images(api, owner=ALICE, status="EXPIRED", now=NOW)["items"]] == [stale]
    assert [i["imageId"] for i in list_images(api, owner=ALICE, status="AWAITING_UPLOAD", now=NOW)["items"]] == [fresh]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1e2", "", "\u0663"])
def test_a_bad_limit_is_refused(api: Api, limit: str):
    with pytest.raises(BadRequest) as raised:
        list_images(api, owner=ALICE, limit=limit, now=NOW)
    assert raised.value.code == "INVALID_LIMIT"


def test_a_bad_status_is_refused(api: Api):
    with pytest.raises(BadRequest) as raised:
        list_images(api, owner=ALICE, status="DELETED", now=NOW)
    assert raised.value.code == "INVALID_STATUS"


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        b64("just a string"),
        b64(["2026-03-01T12:00:00Z"]),
        b64(["2026-03-01T12:00:00Z", "0" * 32, "extra"]),
        b64(["yesterday", "0" * 32]),
        b64(["2026-03-01T12:00:00Z", "../../etc"]),
        b64({"imageId": {"S": "0" * 32}, "owner": {"S": BOB}}),
        b64(["2026-03-01T12:00:00Z", "0" * 32]) + "A",
        "A" * 500,
    ],
)
def test_a_tampered_cursor_is_a_400(api: Api, cursor: str):
    with pytest.raises(BadRequest) as raised:
        list_images(api, owner=ALICE, cursor=cursor, now=NOW)
    assert raised.value.code == "INVALID_CURSOR"


def test_a_cursor_round_trips():
    key = {"imageId": "ab" * 16, "createdAt": "2026-03-01T12:00:00Z"}
    assert decode_cursor(encode_cursor(key)) == key


# ---- delete --------------------------------------------------------------------------------------
def seed_files(api: Api, image_id: str) -> None:
    api.files.put("in", f"uploads/{image_id}/p1.jpg", b"original", "image/jpeg")
    api.files.put("out", f"work/{image_id}/renditions.raw", b"raw", "application/octet-stream")
    api.files.put("out", f"renditions/{image_id}/small.jpg", b"small", "image/jpeg")
    api.files.put("out", f"renditions/{image_id}/large.webp", b"large", "image/webp")  # not in the record
    api.files.put("out", f"renditions/{'f' * 32}/small.jpg", b"another image", "image/jpeg")


def test_delete_removes_every_file_leaves_a_tombstone_and_tells_subscribers(api: Api):
    image_id = add_image(api, 1)
    seed_files(api, image_id)

    assert delete_image(api, image_id, owner=ALICE, now=NOW) is True

    assert_only_a_marker_holds_the_upload_key(api, image_id)
    assert api.files.keys("out") == [f"renditions/{'f' * 32}/small.jpg"]
    record = api.images.records[image_id]
    assert record["status"] == "DELETED" and record["purgedAt"]
    assert record["ttl"] == int(NOW.timestamp()) + config.TOMBSTONE_TTL_S
    assert not {"createdAt", "renditions", "upload", "source"} & set(record)  # out of the index, no name kept
    assert api.invalidator.paths == [[f"/renditions/{image_id}/*"]]
    assert image_status(api, image_id, owner=ALICE, now=NOW) is None
    assert list_images(api, owner=ALICE, now=NOW) == {"items": []}


def test_a_second_delete_is_404(api: Api):
    image_id = add_image(api, 1)
    assert delete_image(api, image_id, owner=ALICE, now=NOW) is True
    assert delete_image(api, image_id, owner=ALICE, now=NOW) is False


def test_unknown_and_malformed_ids_are_404(api: Api):
    assert delete_image(api, "0" * 32, owner=ALICE, now=NOW) is False
    assert delete_image(api, "../x", owner=ALICE, now=NOW) is False


def test_an_interrupted_delete_is_finished_by_the_next(api: Api):
    image_id = add_image(api, 1)
    seed_files(api, image_id)
    api.files = ThrottledOnce(api.files)
    with pytest.raises(TransientError):
        delete_image(api, image_id, owner=ALICE, now=NOW)
    assert image_status(api, image_id, owner=ALICE, now=NOW) is None  # gone for readers already
    assert "purgedAt" not in api.images.records[image_id]

    assert delete_image(api, image_id, owner=ALICE, now=NOW) is True
    assert_only_a_marker_holds_the_upload_key(api, image_id)
    assert api.files.keys("out", f"renditions/{image_id}") == [] and api.files.keys("out", f"work/{image_id}") == []
    assert delete_image(api, image_id, owner=ALICE, now=NOW) is False


def assert_only_a_marker_holds_the_upload_key(api: Api, image_id: str) -> None:
    """The original's bytes are gone; an empty, tagged object keeps a still-valid upload URL from
    storing a new one (If-None-Match: *) until the lifecycle rule expires it."""
    assert api.files.keys("in") == [f"uploads/{image_id}/p1.jpg"]
    marker = api.files.objects[("in", f"uploads/{image_id}/p1.jpg")]
    assert marker.data == b"" and marker.tags == dict([config.DELETED_MARKER_TAG])


def test_deleting_before_the_upload_leaves_the_key_taken(api: Api):
    image_id = add_image(api, 1, status="AWAITING_UPLOAD", age_s=10)
    assert delete_image(api, image_id, owner=ALICE, now=NOW) is True
    assert_only_a_marker_holds_the_upload_key(api, image_id)


def test_deleting_while_processing_leaves_a_tombstone_the_execution_cannot_overwrite(api: Api):
    image_id = add_image(api, 1, status="PROCESSING")
    api.images.records[image_id]["objectVersion"] = "etag:01"
    assert delete_image(api, image_id, owner=ALICE, now=NOW) is True
    from imgpipe.adapters import DeletedImage

    with pytest.raises(DeletedImage):
        api.images.complete(image_id, "etag:01", {"status": "COMPLETE"})
    assert api.images.records[image_id]["status"] == "DELETED"
