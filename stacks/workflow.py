"""The Express state machine: statemachine/pipeline.asl.json, the very file the local runtime runs,
with its ``${...}`` placeholders filled by ``topology.definition_substitutions``."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe import topology

from .context import DeployOptions
from .functions import Functions
from .nag import acknowledge
from .packaging import REPO_ROOT
from .table import ImageTable

DEFINITION_FILE = REPO_ROOT / topology.STATE_MACHINE_FILE


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        functions: Functions,
        table: ImageTable,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        # Express executions keep no history in Step Functions: this log group *is* the history
        # (`imgpipe history` reads it).  The /aws/vendedlogs/ prefix keeps CloudWatch Logs'
        # account-wide resource policy from growing by one entry per log group.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{stack.stack_name}-pipeline",
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
        #  - dynamodb:updateItem, the only DynamoDB call (ClaimImage, RecordFailure).  grant_write_data
        #    would add PutItem, DeleteItem and BatchWriteItem, none of which the definition calls.
        table.table.grant(self.state_machine, "dynamodb:UpdateItem")

        policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        acknowledge(
            policy,
            {
                "AwsSolutions-IAM5[Resource::*]": "Added by CDK for the logging and tracing configuration: the "
                "CloudWatch Logs vended-log delivery actions (logs:CreateLogDelivery, GetLogDelivery, "
                "UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, "
                "DescribeResourcePolicies, DescribeLogGroups) and the X-Ray actions support no resource-level "
                "permissions. The Lambda and DynamoDB statements are scoped.",
            },
        )
