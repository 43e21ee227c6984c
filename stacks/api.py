"""The HTTP API: ``GET /upload-url`` and ``GET /images/{imageId}``, both proxied to the API function.

With auth ``apiKey`` callers present an API key (header ``x-api-key``) bound to a usage plan with a
quota and a throttle; with auth ``jwt`` a Cognito ID token (header ``Authorization``, stacks/auth.py)
instead.  The stage adds its own throttle, X-Ray tracing, JSON access logs and error-level execution logs.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from imgpipe import config, topology

from .context import DeployOptions
from .nag import acknowledge

# Stage-wide throttle (every caller together) and the per-key usage plan.
STAGE_RATE_LIMIT = 50  # requests per second, steady state
STAGE_BURST_LIMIT = 100
KEY_RATE_LIMIT = 10
KEY_BURST_LIMIT = 20
KEY_DAILY_QUOTA = 10_000

# Errors API Gateway answers itself get CORS headers, so a browser can read them too.  A failed
# parameter validation answers in the API's error shape (docs/openapi.yaml, Error); the others keep
# API Gateway's own {"message": ...} body (docs/openapi.yaml, Forbidden).
VALIDATION_ERROR_TEMPLATE = json.dumps(
    {"error": {"code": "INVALID_REQUEST", "message": "$context.error.validationErrorString"}}
)
GATEWAY_ERROR_TEMPLATE = '{"message":$context.error.messageString}'  # API Gateway's default body

# No $context.error.message: quoted, a message holding a quote would break the line's JSON, and its
# pre-quoted form (messageString) makes the format itself unparseable for JSON log tooling. The
# error type and status are here; the message is in the stage's execution logs.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "apiKeyId": "$context.identity.apiKeyId",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        handler: lambda_.IFunction,
        authorizer: apigw.IAuthorizer | None = None,
    ) -> None:
        """``authorizer`` (auth ``jwt``, stacks/auth.py) guards every method instead of the API key."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=options.log_retention, removal_policy=options.removal_policy
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{stack.stack_name}-api",
            description="imgpipe: presigned upload URLs and image status",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            # Access and execution logging need the region's API Gateway CloudWatch role to be set.
            # That setting is account-wide: the role is always retained, so deleting this stack can
            # never break the logging of other APIs in the region.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=topology.API_STAGE,
                throttling_rate_limit=STAGE_RATE_LIMIT,
                throttling_burst_limit=STAGE_BURST_LIMIT,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # full request/response logs would hold presigned URLs
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            ),
        )
        # ERROR-level execution logs go to a group API Gateway would otherwise create on its own, with
        # no retention and outside the stack: create it first, so retention and removal apply.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{topology.API_STAGE}",
            retention=options.log_retention,
            removal_policy=options.removal_policy,
        )
        self.rest_api.deployment_stage.node.add_dependency(self.execution_logs)
        # The stack publishes the URL once, as ApiUrl; drop RestApi's automatic duplicate output.
        self.rest_api.node.try_remove_child("Endpoint")
        api_role = self.rest_api.node.try_find_child("CloudWatchRole")
        assert api_role is not None
        acknowledge(
            api_role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": "This is the region-wide API Gateway account role "
                "(AWS::ApiGateway::Account) that access and execution logging require; it serves every API of the "
                "account, so it cannot be scoped to this stack's log groups, and AWS maintains this managed policy "
                "for exactly this purpose.",
            },
        )

        # The origin is fixed, or copied from the request with several allowed (topology.api_error_allow_origin).
        origins = options.settings.cors_allowed_origins
        error_origin = topology.api_error_allow_origin(origins)
        error_cors = (
            {"Access-Control-Allow-Origin": f"'{error_origin}'"}
            if error_origin
            else {"Access-Control-Allow-Origin": "method.request.header.Origin", "Vary": "'Origin'"}
        )
        for response_type, template in (
            (apigw.ResponseType.BAD_REQUEST_PARAMETERS, VALIDATION_ERROR_TEMPLATE),
            (apigw.ResponseType.DEFAULT_4_XX, GATEWAY_ERROR_TEMPLATE),
            (apigw.ResponseType.DEFAULT_5_XX, GATEWAY_ERROR_TEMPLATE),
        ):
            self.rest_api.add_gateway_response(
                f"{response_type.response_type}Response",
                type=response_type,
                response_headers=error_cors,
                templates={"application/json": template},
            )

        validator = apigw.RequestValidator(
            self,
            "ParameterValidator",
            rest_api=self.rest_api,
            request_validator_name="required-parameters",
            validate_request_parameters=True,
            # Both GET methods are body-less and declare no request model, so body validation never
            # applies; it is switched on so that a model added later is validated too (cdk-nag APIG2
            # also only recognises a validator that validates both).
            validate_request_body=True,
        )
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)

        # One method per route of config.API_ROUTES, the list the local twin serves too; keyed by
        # "METHOD /resource" (GET and DELETE share /images/{imageId}, and its one preflight).
        self.methods: dict[str, apigw.Method] = {}
        for route in config.API_ROUTES:
            resource = self.rest_api.root
            for part in route.resource.strip("/").split("/"):
                resource = resource.get_resource(part) or resource.add_resource(part)
            if resource.node.try_find_child("OPTIONS") is None:
                resource.add_cors_preflight(
                    allow_origins=list(origins),
                    allow_methods=list(topology.API_CORS_ALLOW_METHODS),
                    allow_headers=list(topology.API_CORS_ALLOW_HEADERS),
                    max_age=Duration.seconds(topology.API_CORS_MAX_AGE_S),
                )
            parameters = {f"method.request.querystring.{name}": True for name in route.required_query}
            parameters |= {f"method.request.path.{name}": True for name in route.path_parameters}
            self.methods[f"{route.method} {route.resource}"] = resource.add_method(
                route.method,
                integration,
                api_key_required=authorizer is None,
                authorizer=authorizer,
                authorization_type=apigw.AuthorizationType.COGNITO if authorizer else None,
                request_validator=validator,
                request_parameters=parameters,
            )

        self.api_key: apigw.IApiKey | None = None
        if authorizer is None:
            self._api_key_and_usage_plan(stack)
        self._acknowledge(by_api_key=authorizer is None)

    def _api_key_and_usage_plan(self, stack: Stack) -> None:
        self.api_key = self.rest_api.add_api_key("ApiKey", description=f"{stack.stack_name}: imgpipe API clients")
        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{stack.stack_name}-clients",
            description="Per-key throttle and daily quota for the imgpipe API",
            throttle=apigw.ThrottleSettings(rate_limit=KEY_RATE_LIMIT, burst_limit=KEY_BURST_LIMIT),
            quota=apigw.QuotaSettings(limit=KEY_DAILY_QUOTA, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        self.usage_plan.add_api_key(self.api_key)

    def _acknowledge(self, *, by_api_key: bool) -> None:
        acknowledge(
            self.rest_api.deployment_stage,
            {
                "AwsSolutions-APIG3": "No AWS WAF web ACL: the API is gated by a required API key with a per-key "
                "throttle and daily quota plus a stage-wide throttle, and its two routes only issue presigned URLs "
                "and read records by an unguessable 128-bit id; a web ACL's fixed monthly cost buys no rule this "
                "API needs today.",
            },
        )
        if not by_api_key:
            return  # auth "jwt": every method has the Cognito authorizer (APIG4 and COG4 hold)
        key_reason = (
            "Callers are authenticated by a required API key (usage plan with quota and throttle); with auth "
            "'apiKey' there are no end-user identities to authorise with IAM or Cognito (auth 'jwt' adds them)."
        )
        for method in self.methods.values():
            acknowledge(method, {"AwsSolutions-APIG4": key_reason, "AwsSolutions-COG4": key_reason})
