"""Every timestamp of an image record has one format, whoever wrote it: the API (createdAt), the
state machine (startedAt, failedAt: from the state's entered time) or the metadata step
(completedAt), so ``updatedAt`` reads the same in every state and sorts as text."""

from __future__ import annotations

import re

from imgpipe.client import Client
from imgpipe.config import TABLE_KEY
from tests.local.conftest import poll

UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def timestamps(stack, image_id: str) -> dict[str, str]:
    item = stack.client("dynamodb").get_item(TableName=stack.names.table, Key={TABLE_KEY: {"S": image_id}})["Item"]
    return {name: value["S"] for name, value in item.items() if name.endswith("At") and "S" in value}


def test_a_record_keeps_one_timestamp_format_from_upload_url_to_complete(stack, client: Client, photo: bytes):
    upload = client.request_upload("stamps.jpg", "image/jpeg", len(photo))
    image_id = upload["imageId"]
    awaiting = timestamps(stack, image_id)
    client.put(upload, photo)
    processing = poll(lambda: (t := timestamps(stack, image_id)).get("startedAt") and t)
    client.wait(image_id)
    complete = timestamps(stack, image_id)

    assert {"createdAt", "updatedAt"} <= set(awaiting)
    assert {"startedAt", "updatedAt"} <= set(processing)  # written by the state machine
    assert {"completedAt", "updatedAt"} <= set(complete)  # written by the metadata step
    for stamps in (awaiting, processing, complete):
        assert all(UTC_SECONDS.fullmatch(value) for value in stamps.values()), stamps


def test_a_failed_record_keeps_the_same_format(stack, client: Client):
    image_id = client.upload("broken.jpg", b"\x00" * 200, "image/jpeg")
    assert client.wait(image_id)["status"] == "FAILED"

    stamps = timestamps(stack, image_id)

    assert {"failedAt", "updatedAt"} <= set(stamps)  # written by the state machine's failure branch
    assert all(UTC_SECONDS.fullmatch(value) for value in stamps.values()), stamps
