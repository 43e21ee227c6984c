"""`imgpipe redrive` against the local dead-letter queue: a dead-lettered upload event is delivered
again and the image it names gets processed; the queue is left empty."""

from __future__ import annotations

import json

from imgpipe.cli import main
from imgpipe.client import Client


def dead_lettered_upload(stack, client: Client, photo: bytes) -> str:
    """An upload whose event never reached the workflow: the bucket's EventBridge notification is off
    while the file is PUT, and its event is put straight into the dead-letter queue."""
    s3 = stack.client("s3")
    bucket = stack.names.input_bucket
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        upload = client.request_upload("lost.jpg", "image/jpeg", len(photo))
        client.put(upload, photo)
    finally:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    head = s3.head_object(Bucket=bucket, Key=upload["key"])
    event = {
        "version": "0", "id": "5f1c1d53-9d0e-4f5e-8a7b-0d3f1c2e4b5a", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-28T09:00:00Z",
        "region": stack.names.region, "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0", "bucket": {"name": bucket},
            "object": {"key": upload["key"], "size": len(photo), "etag": head["ETag"].strip('"'),
                       "sequencer": "0062E99A88DC407460"},
            "reason": "PutObject",
        },
    }  # fmt: skip
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName=stack.names.dead_letter_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(event))
    return upload["imageId"]


def test_redrive_delivers_dead_lettered_events_and_empties_the_queue(stack, client: Client, photo: bytes, capsys):
    image_id = dead_lettered_upload(stack, client, photo)
    assert client.image(image_id)["status"] == "AWAITING_UPLOAD"

    assert main(["redrive", "--endpoint-url", stack.aws_endpoint]) == 0
    assert f"1 event(s) from {stack.names.dead_letter_queue} redriven to {stack.names.queue}" in capsys.readouterr().out

    assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName=stack.names.dead_letter_queue)["QueueUrl"]
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=list(counts))["Attributes"]
    assert [attributes[name] for name in counts] == ["0", "0"]


def test_redrive_with_an_empty_queue_delivers_nothing(stack, capsys):
    assert main(["redrive", "--endpoint-url", stack.aws_endpoint]) == 0
    assert "0 event(s)" in capsys.readouterr().out
