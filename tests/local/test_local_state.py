"""The local stack keeps what AWS keeps: intermediates of finished images and records past their TTL
are swept (S3 lifecycle, DynamoDB TTL); an image's history is found through its record."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from imgpipe.cli import main
from imgpipe.client import Client
from imgpipe.config import WORK_PREFIX
from imgpipe.history import image_history
from imgpipe.topology import WORK_EXPIRY_DAYS


def work_keys(stack, image_id: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.names.output_bucket, Prefix=f"{WORK_PREFIX}{image_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def put_record(stack, image_id: str, **fields: str) -> None:
    item = {"imageId": {"S": image_id}} | {k: {"N" if k == "ttl" else "S": v} for k, v in fields.items()}
    stack.client("dynamodb").put_item(TableName=stack.names.table, Item=item)


def test_a_finished_images_intermediates_are_swept_an_unfinished_ones_kept(stack, client: Client, photo: bytes):
    image_id = client.upload("swept.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    in_flight = uuid.uuid4().hex
    put_record(stack, in_flight, status="PROCESSING")
    stack.client("s3").put_object(
        Bucket=stack.names.output_bucket, Key=f"{WORK_PREFIX}{in_flight}/renditions.raw", Body=b"raw"
    )

    stack.lifecycle.sweep(ttl=False)

    assert work_keys(stack, image_id) == []
    assert work_keys(stack, in_flight) == [f"{WORK_PREFIX}{in_flight}/renditions.raw"]
    assert client.image(image_id)["status"] == "COMPLETE"  # renditions and record are kept
    # ...until the lifecycle rule's age, as on AWS (an execution that died without recording anything).
    stack.lifecycle.sweep(ttl=False, now=datetime.now(UTC) + timedelta(days=WORK_EXPIRY_DAYS, minutes=1))
    assert work_keys(stack, in_flight) == []


def test_a_record_past_its_ttl_is_deleted_as_dynamodb_ttl_would(stack):
    expired, alive = uuid.uuid4().hex, uuid.uuid4().hex
    put_record(stack, expired, status="AWAITING_UPLOAD", ttl=str(int(time.time()) - 1))
    put_record(stack, alive, status="AWAITING_UPLOAD", ttl=str(int(time.time()) + 3600))

    stack.lifecycle.sweep(ttl=True)

    table = stack.client("dynamodb")
    assert "Item" not in table.get_item(TableName=stack.names.table, Key={"imageId": {"S": expired}})
    assert "Item" in table.get_item(TableName=stack.names.table, Key={"imageId": {"S": alive}})


class CountingStepFunctions:
    """The real client, counting the calls made through it."""

    def __init__(self, sfn):
        self.sfn = sfn
        self.calls: list[str] = []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.sfn, name)


def test_an_images_history_is_found_through_its_record_without_describing_executions(stack, client, photo):
    others = [client.upload(f"other-{n}.jpg", photo, "image/jpeg") for n in range(2)]
    image_id = client.upload("mine.jpg", photo, "image/jpeg")
    for each in (*others, image_id):
        assert client.wait(each)["status"] == "COMPLETE"
    sfn = CountingStepFunctions(stack.client("stepfunctions"))

    (summary,) = image_history(sfn, stack.client("dynamodb"), stack.names.table, image_id)

    assert summary.image_id == image_id and summary.status == "SUCCEEDED"
    assert "describe_execution" not in sfn.calls and "list_executions" not in sfn.calls
    assert image_history(sfn, stack.client("dynamodb"), stack.names.table, uuid.uuid4().hex) == []


def test_history_command_prints_the_images_execution(stack, client, photo, capsys):
    image_id = client.upload("cli-history.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    capsys.readouterr()
    assert main(["history", image_id, "--endpoint-url", stack.aws_endpoint]) == 0
    out = capsys.readouterr().out
    assert f"image {image_id}" in out and "Resize" in out
    assert main(["history", uuid.uuid4().hex, "--endpoint-url", stack.aws_endpoint]) == 1
