"""The trigger: S3 "Object Created" events for the upload prefix of the input bucket start the state
machine; events EventBridge cannot deliver end in an encrypted SQS dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, Names, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from imgpipe import config, topology

from .context import DeployOptions
from .nag import acknowledge
from .queues import dead_letter_queue
from .storage import Storage
from .workflow import Workflow

# EventBridge retries a failed StartExecution (throttling, a transient service error) with backoff;
# past either bound the event goes to the DLQ instead of waiting up to its 24 h / 185-attempt default.
RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(2)
RULE_NAME_MAX_LENGTH = 64  # EventBridge's limit


class Trigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        storage: Storage,
        workflow: Workflow,
    ) -> None:
        super().__init__(scope, construct_id)

        self.dead_letter_queue = dead_letter_queue(self, options)
        acknowledge(
            self.dead_letter_queue,
            {
                "AwsSolutions-SQS3": "This queue is itself the dead-letter queue of the EventBridge rule target (the "
                "target's DeadLetterConfig, which cdk-nag does not count as DLQ use); a DLQ for a DLQ would only "
                "move undeliverable events one queue further.",
                "Serverless-SQSRedrivePolicy": "Terminal dead-letter queue of the EventBridge rule target: messages "
                "are inspected and redriven by an operator; no consumer exists whose failures would need a DLQ.",
            },
        )

        # The pattern is config's, shared with the local runtime's rule.
        pattern = topology.object_created_pattern(storage.input_bucket.bucket_name)
        unknown = set(pattern) - {"source", "detail-type", "detail"}
        if unknown:
            raise ValueError(f"object_created_pattern has fields this stack does not map: {sorted(unknown)}")
        # Named here (unique per stack: the construct path's name with its hash) so the role below can
        # name it in its trust policy: the rule's own ARN attribute would make the two depend on each
        # other (the rule's target names the role).
        stack = Stack.of(self)
        rule_name = Names.unique_resource_name(self, max_length=RULE_NAME_MAX_LENGTH, separator="-")
        self.rule = events.Rule(
            self,
            "UploadCreated",
            rule_name=rule_name,
            description=f"Start the imgpipe workflow for new objects under {config.UPLOAD_PREFIX} of the input bucket",
            event_pattern=events.EventPattern(
                source=pattern.get("source"), detail_type=pattern.get("detail-type"), detail=pattern.get("detail")
            ),
        )
        # The role EventBridge assumes to start executions, for this rule of this account only (no other
        # rule, here or elsewhere, can borrow it: the confused-deputy conditions EventBridge documents).
        rule_arn = stack.format_arn(service="events", resource="rule", resource_name=rule_name)
        self.events_role = iam.Role(
            self,
            "StartExecutionRole",
            description="EventBridge: start the imgpipe workflow for uploads",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": rule_arn},
                },
            ),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                workflow.state_machine,
                role=self.events_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
