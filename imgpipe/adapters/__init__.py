"""Adapters: the only place that talks to S3, DynamoDB, EventBridge, CloudFront and the workflow's
execution history, one module per service (``aws`` makes their clients and classifies failures).

Clients are created lazily (first use, then reused across warm invocations) so that importing a
handler stays cheap and tests can point boto3 at moto before anything connects.  Botocore's own
retries run first; what still fails is classified as transient (the state machine retries it) or
permanent.  The functions import what they use from here.
"""

from imgpipe.adapters.aws import classify
from imgpipe.adapters.cloudfront import CloudFrontInvalidator, cdn_invalidator
from imgpipe.adapters.dynamodb import (
    DeletedImage,
    DynamoImages,
    ImageRepository,
    PageKey,
    StaleExecution,
    decode_item,
    from_dynamo,
    to_dynamo,
)
from imgpipe.adapters.eventbridge import MAX_EVENTS_PER_CALL, Event, EventBridgePublisher, EventPublisher
from imgpipe.adapters.s3 import ObjectStore, S3Store
from imgpipe.adapters.workflow_history import (
    HISTORY_WINDOW_MARGIN_MS,
    CloudWatchHistory,
    ExecutionHistory,
    StepFunctionsHistory,
    execution_history,
)

__all__ = [
    "HISTORY_WINDOW_MARGIN_MS",
    "MAX_EVENTS_PER_CALL",
    "CloudFrontInvalidator",
    "CloudWatchHistory",
    "DeletedImage",
    "DynamoImages",
    "Event",
    "EventBridgePublisher",
    "EventPublisher",
    "ExecutionHistory",
    "ImageRepository",
    "ObjectStore",
    "PageKey",
    "S3Store",
    "StaleExecution",
    "StepFunctionsHistory",
    "cdn_invalidator",
    "classify",
    "decode_item",
    "execution_history",
    "from_dynamo",
    "to_dynamo",
]
