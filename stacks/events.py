"""The image events: the table's stream feeds the events function (an event source mapping), which
publishes ImageProcessed, ImageFailed and ImageDeleted to the bus the settings name (docs/events.md).
What the mapping cannot deliver after its retries is recorded in an encrypted SQS dead-letter queue:
the batch's stream position, to be replayed from the stream (kept 24 hours) by an operator."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from imgpipe import topology

from .context import DeployOptions
from .nag import acknowledge
from .queues import dead_letter_queue
from .table import ImageTable

MAX_RECORD_AGE = Duration.hours(6)  # then the mapping stops retrying a record and reports it to the DLQ


class ImageEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        table: ImageTable,
        function: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, options)
        acknowledge(
            self.dead_letter_queue,
            {
                "AwsSolutions-SQS3": "This queue is itself the on-failure destination of the table stream's event "
                "source mapping; a DLQ for a DLQ would only move the failure records one queue further.",
                "Serverless-SQSRedrivePolicy": "Terminal on-failure destination of the event source mapping: its "
                "messages name stream positions an operator replays; no consumer exists whose failures need a DLQ.",
            },
        )
        self.source = sources.DynamoEventSource(
            table.table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=topology.STREAM_BATCH_SIZE,
            # The function reports the first record it could not publish; the mapping retries from there,
            # so one image's events never overtake each other and none is skipped.
            report_batch_item_failures=True,
            retry_attempts=topology.STREAM_RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            on_failure=sources.SqsDlq(self.dead_letter_queue),
            filters=[lambda_.FilterCriteria.filter(topology.STREAM_FILTER)],
        )
        function.add_event_source(self.source)
