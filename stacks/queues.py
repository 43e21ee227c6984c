"""The stack's dead-letter queues, made one way: SQS-managed encryption, TLS only, kept 14 days (the
SQS maximum: time to notice, inspect and redrive or replay), removed with the stack as its options say.
Each owner acknowledges cdk-nag's findings on its queue with its own reasons."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .context import DeployOptions

DLQ_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, options: DeployOptions, construct_id: str = "DeadLetterQueue") -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
        removal_policy=options.removal_policy,
    )
