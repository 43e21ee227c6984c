"""The Express state machine: statemachine/pipeline.asl.json, the very file the local runtime runs,
with its ``${...}`` placeholders filled by ``topology.definition_substitutions``."""

from __future__ import annotations

from aws_cdk import CfnElement, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe import config, topology

from .context import DeployOptions
from .functions import Functions
from .nag import acknowledge
from .packaging import REPO_ROOT
from .storage import Storage
from .table import ImageTable

DEFINITION_FILE = REPO_ROOT / topology.STATE_MACHINE_FILE


def stack_instance_suffix(stack: Stack) -> str:
    """The last group of the stack id's UUID (12 hex digits): fixed for the life of one stack,
    different for the next stack created under the same name."""
    uuid = Fn.select(2, Fn.split("/", stack.stack_id))
    return Fn.select(4, Fn.split("-", uuid))


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        functions: Functions,
        table: ImageTable,
        storage: Storage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        # Express executions keep no history in Step Functions: this log group *is* the history
        # (`imgpipe history` reads it).  The /aws/vendedlogs/ prefix keeps CloudWatch Logs'
        # account-wide resource policy from growing by one entry per log group.  The group is
        # retained by default, so its name ends with a part of the stack's id, new for every stack
        # created: a stack deleted and deployed again under the same name gets a group of its own
        # instead of failing on the kept one (AlreadyExists).
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{stack.stack_name}-pipeline-{stack_instance_suffix(stack)}",
            retention=options.log_retention,
            removal_policy=options.removal_policy,
        )

        workflow_functions = {step.name: functions.functions[step.name] for step in topology.WORKFLOW_STEPS}
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION_FILE)),
            definition_substitutions=topology.definition_substitutions(
                {name: fn.function_arn for name, fn in workflow_functions.items()}, table.table.table_name
            ),
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )

        # The definition names its resources only through the substitutions, so CDK cannot infer
        # permissions: grant exactly the two integrations it uses.
        #  - lambda:invoke of the unqualified ARNs it substitutes (not "<arn>:*": no aliases/versions).
        iam.Grant.add_to_principal(
            grantee=self.state_machine,
            actions=["lambda:InvokeFunction"],
            resource_arns=[fn.function_arn for fn in workflow_functions.values()],
        )
        #  - dynamodb:updateItem, the only DynamoDB call (ClaimImage, RecordFailure), on the table alone.
        #    grant_write_data would add PutItem, DeleteItem and BatchWriteItem, none of which the
        #    definition calls, and Table.grant would add the table's indexes.
        iam.Grant.add_to_principal(
            grantee=self.state_machine, actions=["dynamodb:UpdateItem"], resource_arns=[table.table.table_arn]
        )
        #  - s3:putObjectTagging of uploads (TagFailedOriginal): the tag the lifecycle rule expires.
        uploads = storage.input_bucket.arn_for_objects(f"{config.UPLOAD_PREFIX}*")
        iam.Grant.add_to_principal(grantee=self.state_machine, actions=["s3:PutObjectTagging"], resource_arns=[uploads])

        policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        tagged = f"<{_logical_id(storage.input_bucket)}.Arn>/{config.UPLOAD_PREFIX}*"  # as cdk-nag prints it
        acknowledge(
            policy,
            {
                "AwsSolutions-IAM5[Resource::*]": "Added by CDK for the logging and tracing configuration: the "
                "CloudWatch Logs vended-log delivery actions (logs:CreateLogDelivery, GetLogDelivery, "
                "UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, "
                "DescribeResourcePolicies, DescribeLogGroups) and the X-Ray actions support no resource-level "
                "permissions. The Lambda, DynamoDB and S3 statements are scoped.",
                f"AwsSolutions-IAM5[Resource::{tagged}]": "TagFailedOriginal tags the original of whichever image "
                "failed: its key (uploads/<imageId>/<name>) is known only at run time. The grant is the one tagging "
                "action on the upload prefix of the input bucket.",
            },
        )


def _logical_id(construct: Construct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    return Stack.of(construct).get_logical_id(resource)
