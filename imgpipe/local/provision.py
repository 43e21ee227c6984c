"""Create the pipeline's resources in the emulator from the same source of truth as the CDK stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from imgpipe import config, topology
from imgpipe.local.cognito import LocalUserPool
from imgpipe.paths import checkout_root

ACCOUNT = "123456789012"


@dataclass(frozen=True)
class LocalNames:
    region: str = "us-east-1"
    input_bucket: str = f"{config.PROJECT}-input"
    output_bucket: str = f"{config.PROJECT}-output"
    table: str = f"{config.PROJECT}-images"
    state_machine: str = f"{config.PROJECT}-pipeline"
    queue: str = f"{config.PROJECT}-object-created"
    dead_letter_queue: str = f"{config.PROJECT}-object-created-dlq"
    rule: str = f"{config.PROJECT}-object-created"
    role: str = f"{config.PROJECT}-local"
    user_pool: str = f"{config.PROJECT}-users"  # auth "jwt" only
    user_pool_client: str = f"{config.PROJECT}-local"

    def function_name(self, step: topology.Step) -> str:
        return f"{config.PROJECT}-{step.name}"

    def function_arn(self, step: topology.Step) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name(step)}"

    @property
    def state_machine_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{self.state_machine}"

    @property
    def resources(self) -> config.Resources:
        return config.Resources(self.input_bucket, self.output_bucket, self.table)


def load_definition(names: LocalNames) -> str:
    """The ASL file with its ${…} substitutions filled, as DefinitionBody.from_file does on AWS."""
    text = (checkout_root() / topology.STATE_MACHINE_FILE).read_text()
    arns = {step.name: names.function_arn(step) for step in topology.WORKFLOW_STEPS}
    for key, value in topology.definition_substitutions(arns, names.table).items():
        text = text.replace("${" + key + "}", value)
    json.loads(text)  # fail here, not in the emulator, if a substitution broke the JSON
    return text


def provision(session: Any, names: LocalNames, cors_allowed_origins: tuple[str, ...] = ("*",)) -> str:
    """Create buckets, table, queues, rule and state machine; returns the rule's queue URL.
    ``cors_allowed_origins``: the pages allowed to upload and fetch (PipelineSettings)."""
    s3 = session.client("s3")
    for bucket in (names.input_bucket, names.output_bucket):
        s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            ),
        )
    # Browsers PUT to presigned URLs and GET renditions directly, under the rules the CDK buckets have.
    for bucket, cors in (
        (names.input_bucket, topology.INPUT_BUCKET_CORS),
        (names.output_bucket, topology.OUTPUT_BUCKET_CORS),
    ):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors.s3_rules(cors_allowed_origins)})
    s3.put_bucket_notification_configuration(
        Bucket=names.input_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )

    dynamodb = session.client("dynamodb")
    index = config.OWNER_INDEX
    dynamodb.create_table(
        TableName=names.table,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("imageId", index.partition_key, index.sort_key)
        ],
        KeySchema=[{"AttributeName": "imageId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        # "My uploads" (GET /images), as stacks/table.py defines it.
        GlobalSecondaryIndexes=[
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
            }
        ],
        # The image events are published from the records' changes (imgpipe.local.streams).
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.update_time_to_live(
        TableName=names.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )

    # moto's EventBridge cannot target Step Functions: the rule delivers to a queue and the bridge
    # (imgpipe.local.bridge) starts one execution per message, with the event as its input.
    sqs = session.client("sqs")
    dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url: str = sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            "VisibilityTimeout": "30",
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    events = session.client("events")
    events.put_rule(Name=names.rule, EventPattern=json.dumps(topology.object_created_pattern(names.input_bucket)))
    events.put_targets(Rule=names.rule, Targets=[{"Id": "pipeline", "Arn": queue_arn}])

    role_arn = session.client("iam").create_role(
        RoleName=names.role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    session.client("stepfunctions").create_state_machine(
        name=names.state_machine, definition=load_definition(names), roleArn=role_arn, type="EXPRESS"
    )
    return queue_url


def provision_user_pool(session: Any, names: LocalNames) -> LocalUserPool:
    """The user pool and app client of auth "jwt", as the stack makes them (stacks/auth.py): the same
    password policy, and sign-in by user name and password (USER_PASSWORD_AUTH) for `imgpipe token`."""
    cognito = session.client("cognito-idp")
    pool_id = cognito.create_user_pool(
        PoolName=names.user_pool,
        Policies={
            "PasswordPolicy": {
                "MinimumLength": topology.USER_POOL_PASSWORD_MIN_LENGTH,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=names.user_pool_client,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return LocalUserPool(pool_id, client_id)
