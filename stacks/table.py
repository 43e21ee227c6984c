"""The image records: one item per image id, written by the API, the state machine and metadata."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from imgpipe import config

from .context import DeployOptions

PARTITION_KEY = "imageId"
TTL_ATTRIBUTE = "ttl"  # set on AWAITING_UPLOAD records by the API, removed when processing starts


class ImageTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeployOptions) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=options.table_removal_policy,
            # A retained table is also protected from deletion outside CloudFormation.
            deletion_protection=not options.destroy,
            # Every change, old and new image: the events function publishes ImageProcessed, ImageFailed
            # and ImageDeleted from the records' transitions (stacks/events.py).
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        # "My uploads" (GET /images): an owner's images, newest first; the local table has the same.
        index = config.OWNER_INDEX
        self.table.add_global_secondary_index(
            index_name=index.name,
            partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(index.projected),
        )
