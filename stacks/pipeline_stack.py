"""The one imgpipe stack: storage, table, functions, workflow, trigger, API, and (by settings)
the CloudFront delivery of renditions and the Cognito user pool, wired together."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from imgpipe import config, topology

from .api import Api
from .auth import Auth
from .context import AccessOptions, DeployOptions, OperationsOptions
from .delivery import Delivery
from .events import ImageEvents
from .functions import Functions
from .monitoring import Monitored, Monitoring
from .storage import Storage, deny_uploads_without_if_none_match
from .table import ImageTable
from .trigger import Trigger
from .workflow import Workflow

DEFAULT_STACK_NAME = "Imgpipe"


class PipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str = DEFAULT_STACK_NAME, **kwargs: Any) -> None:
        kwargs.setdefault(
            "description", "imgpipe: S3 -> EventBridge -> Express Step Functions -> Lambda image pipeline"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.options = options = DeployOptions.from_context(self.node)
        operations = OperationsOptions.from_context(self.node)

        self.storage = Storage(self, "Storage", options=options)
        self.table = ImageTable(self, "Images", options=options)
        self.functions = Functions(
            self,
            "Functions",
            options=options,
            storage=self.storage,
            table=self.table,
            reserved_concurrency=operations.reserved_concurrency,
        )
        api_role = self.functions.functions[topology.API.name].role
        assert api_role is not None
        deny_uploads_without_if_none_match(self.storage.input_bucket, api_role)
        self.workflow = Workflow(
            self, "Workflow", options=options, functions=self.functions, table=self.table, storage=self.storage
        )
        self.trigger = Trigger(self, "Trigger", options=options, storage=self.storage, workflow=self.workflow)
        # GET /images/{imageId}/execution: an Express execution's history lives only in the workflow's
        # log group, so the API function reads it there, with the one action that takes.
        history_reader = self.functions.functions[topology.API.name]
        history_reader.add_environment(config.ENV_HISTORY_LOG_GROUP, self.workflow.log_group.log_group_name)
        self.workflow.log_group.grant(history_reader, "logs:FilterLogEvents")
        self.events = ImageEvents(
            self, "Events", options=options, table=self.table, function=self.functions.functions[topology.EVENTS.name]
        )
        access = AccessOptions.from_context(self.node)
        self.delivery: Delivery | None = None
        if options.settings.delivery == "cdn":
            self.delivery = Delivery(self, "Delivery", options=options, access=access, storage=self.storage)
            for function in self.functions.functions.values():  # the API and the events make URLs
                function.add_environment(config.ENV_RENDITIONS_BASE_URL, self.delivery.base_url)
            # DELETE invalidates the image's paths (adapters.cdn_invalidator): this distribution only.
            api_function = self.functions.functions[topology.API.name]
            api_function.add_environment(config.ENV_DISTRIBUTION_ID, self.delivery.distribution.distribution_id)
            self.delivery.distribution.grant_create_invalidation(api_function)
        self.auth: Auth | None = None
        if options.settings.auth == "jwt":
            self.auth = Auth(self, "Auth", options=options, access=access)
        self.api = Api(
            self,
            "Api",
            options=options,
            handler=self.functions.functions["api"],
            authorizer=self.auth.authorizer if self.auth else None,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            watched=Monitored(
                functions=self.functions.functions,
                state_machine=self.workflow.state_machine,
                execution_log=self.workflow.log_group,
                rule=self.trigger.rule,
                dead_letter_queue=self.trigger.dead_letter_queue,
                rest_api=self.api.rest_api,
                other_dead_letter_queues={"EventsDeadLetterQueue": self.events.dead_letter_queue},
            ),
            alarm_email=operations.alarm_email,
        )

        outputs = {
            "ApiUrl": (self.api.rest_api.url, "Base URL of the API (stage included)"),
            "InputBucketName": (self.storage.input_bucket.bucket_name, "Uploads land here (presigned PUT)"),
            "OutputBucketName": (self.storage.output_bucket.bucket_name, "Renditions are written here"),
            "TableName": (self.table.table.table_name, "Image records"),
            "StateMachineArn": (self.workflow.state_machine.state_machine_arn, "Express state machine"),
            "EventBusName": (
                options.settings.event_bus_name,
                "ImageProcessed / ImageFailed / ImageDeleted are published here (imgpipe events --stack <name>)",
            ),
            "EventsDeadLetterQueueUrl": (
                self.events.dead_letter_queue.queue_url,
                "Stream positions whose events could not be published after the retries",
            ),
            topology.STATE_MACHINE_LOG_GROUP_OUTPUT: (
                self.workflow.log_group.log_group_name,
                "Execution history of the Express workflow (imgpipe history --stack <name>)",
            ),
        }
        outputs["DeadLetterQueueUrl"] = (
            self.trigger.dead_letter_queue.queue_url,
            "Upload events EventBridge could not hand to the workflow (imgpipe redrive --stack <name>)",
        )
        outputs["AlarmTopicArn"] = (
            self.monitoring.alarm_topic.topic_arn,
            "Every alarm notifies this SNS topic (subscribe with imgpipe:alarmEmail or aws sns subscribe)",
        )
        if self.api.api_key is not None:
            outputs["ApiKeyId"] = (
                self.api.api_key.key_id,
                "API key id; its value (the x-api-key header): aws apigateway get-api-key "
                "--api-key <ApiKeyId> --include-value --query value --output text",
            )
        if self.delivery is not None:
            outputs["RenditionsBaseUrl"] = (self.delivery.base_url, "Rendition URLs start here (delivery cdn)")
            outputs["DistributionId"] = (self.delivery.distribution.distribution_id, "CloudFront distribution")
            outputs["DistributionDomainName"] = (
                self.delivery.distribution.distribution_domain_name,
                "Point a custom domain's DNS record here (imgpipe:cdnDomain)",
            )
        if self.auth is not None:
            outputs["UserPoolId"] = (
                self.auth.user_pool.user_pool_id,
                "Cognito user pool whose ID tokens the API takes",
            )
            if self.auth.client is not None:
                outputs["UserPoolClientId"] = (self.auth.client.user_pool_client_id, "App client of the user pool")
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
