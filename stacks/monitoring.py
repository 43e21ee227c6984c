"""Operations: who is told when the pipeline goes wrong, and the dashboard to look at when they are.

* An SNS topic (encrypted with a customer managed key, TLS only) receives every alarm's ALARM and OK
  transitions; ``imgpipe:alarmEmail`` subscribes an address to it.
* Alarms (built with cdk-monitoring-constructs, named ``<stack>-<what>-<kind>``): the dead-letter
  queue holds events; the trigger rule failed to start executions; executions time out or fail
  often; a function fails or is throttled; the API answers 5xx or slowly.  docs/deploy.md
  ("Operations") says what each means and what to do.
* One dashboard, ``<stack>-imgpipe``: throughput, failures by error code, duration per step, then the
  sections the library draws for each resource.  Failures by error code come from the workflow's own
  execution log (every ``ExecutionFailed`` event carries the image's error code), counted by a metric
  filter into the stack's metric namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cdk_monitoring_constructs as cmc
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe import topology

from .functions import metrics_namespace
from .nag import acknowledge

PERIOD = Duration.minutes(5)
# "Sustained": the condition holds in each of this many consecutive periods before anyone is paged.
SUSTAINED_PERIODS = 3
# The image steps and the workflow fail for bad uploads too (a corrupt file is a FAILED image, not an
# outage), so they alarm on a sustained share of failures rather than on the first one: failed /
# started (errors / invocations) above this in every one of SUSTAINED_PERIODS periods.
IMAGE_FAILURE_RATE = 0.10
API_LATENCY_P99 = Duration.millis(2500)
FAILURES_METRIC = "ImagesFailed"
ERROR_CODE_DIMENSION = "ErrorCode"
# The functions that raise for a bad upload (the image's error code); any other function's error is
# a fault, and alarms at once.
FAIL_FOR_BAD_INPUT = {topology.RESIZE.name, topology.WATERMARK.name}


@dataclass(frozen=True)
class Monitored:
    """What the alarms and the dashboard watch."""

    functions: dict[str, lambda_.Function]
    state_machine: sfn.StateMachine
    execution_log: logs.ILogGroup
    rule: events.Rule
    dead_letter_queue: sqs.Queue  # the trigger's: uploads the workflow never started for
    rest_api: apigw.RestApi
    # Any other dead-letter queue of the stack, by a name for its alarm: each alarms once it holds a message.
    other_dead_letter_queues: Mapping[str, sqs.IQueue] = field(default_factory=dict)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, watched: Monitored, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.alarm_topic = self._topic(stack, alarm_email)

        # Failures by error code: the workflow's ExecutionFailed events, counted per error code.
        namespace = metrics_namespace(stack.stack_name)
        logs.MetricFilter(
            self,
            "FailuresByErrorCode",
            log_group=watched.execution_log,
            filter_pattern=logs.FilterPattern.string_value("$.type", "=", "ExecutionFailed"),
            metric_namespace=namespace,
            metric_name=FAILURES_METRIC,
            metric_value="1",
            dimensions={ERROR_CODE_DIMENSION: "$.details.error"},
        )

        action = cmc.SnsAlarmActionStrategy(on_alarm_topic=self.alarm_topic, on_ok_topic=self.alarm_topic)
        self.facade = cmc.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=cmc.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=stack.stack_name,
                action=action,
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            metric_factory_defaults=cmc.MetricFactoryDefaults(period=PERIOD),
            dashboard_factory=cmc.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"{stack.stack_name}-imgpipe",
                create_dashboard=True,
                create_alarm_dashboard=False,
                create_summary_dashboard=False,
            ),
        )
        facade = self.facade
        facade.add_large_header(f"imgpipe: {stack.stack_name}")
        self._pipeline_section(watched, namespace)

        facade.monitor_sqs_queue(
            queue=watched.dead_letter_queue,
            alarm_friendly_name="DeadLetterQueue",
            human_readable_name="Dead-letter queue (uploads EventBridge could not hand to the workflow)",
            add_queue_max_size_alarm={"Critical": cmc.MaxMessageCountThreshold(max_message_count=0)},
        )
        for name, queue in watched.other_dead_letter_queues.items():
            facade.monitor_sqs_queue(
                queue=queue,
                alarm_friendly_name=name,
                human_readable_name=f"Dead-letter queue {name}",
                add_queue_max_size_alarm={"Critical": cmc.MaxMessageCountThreshold(max_message_count=0)},
            )
        facade.monitor_step_function(
            state_machine=watched.state_machine,
            alarm_friendly_name="Workflow",
            human_readable_name="Workflow (Express state machine)",
            add_timed_out_execution_count_alarm={"Critical": cmc.ErrorCountThreshold(max_error_count=0)},
        )
        for step in topology.STEPS:
            fn = watched.functions[step.name]
            # Image steps: the error rate, an alarm of the pipeline section (_pipeline_section).
            any_error = {"Critical": cmc.ErrorCountThreshold(max_error_count=0)}
            facade.monitor_lambda_function(
                lambda_function=fn,
                alarm_friendly_name=f"{step.name.capitalize()}Function",
                human_readable_name=f"Function {step.name}: {step.description}",
                # Throttled invocations are retried (the workflow's throttling retrier, API clients);
                # throttling that lasts means the function needs more concurrency.
                add_throttles_count_alarm={
                    "Warning": cmc.ErrorCountThreshold(
                        max_error_count=0, datapoints_to_alarm=SUSTAINED_PERIODS, evaluation_periods=SUSTAINED_PERIODS
                    )
                },
                add_fault_count_alarm=None if step.name in FAIL_FOR_BAD_INPUT else any_error,
            )
        facade.monitor_api_gateway(
            api=watched.rest_api,
            api_stage=topology.API_STAGE,
            alarm_friendly_name="Api",
            human_readable_name="API (upload URLs and image status)",
            add5_xx_fault_count_alarm={"Critical": cmc.ErrorCountThreshold(max_error_count=0)},
            add_latency_p99_alarm={
                "Warning": cmc.LatencyThreshold(
                    max_latency=API_LATENCY_P99,
                    datapoints_to_alarm=SUSTAINED_PERIODS,
                    evaluation_periods=SUSTAINED_PERIODS,
                )
            },
        )

    def _topic(self, stack: Stack, alarm_email: str | None) -> sns.Topic:
        # CloudWatch alarms can publish to an encrypted topic only with a customer managed key whose
        # policy lets CloudWatch use it (the AWS managed aws/sns key's policy cannot be changed).
        # The key protects notifications in flight, no stored data: it goes with the stack.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{stack.stack_name}: encrypts the imgpipe alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.grant(cloudwatch_service, "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"imgpipe alarms ({stack.stack_name})",
            master_key=key,
            enforce_ssl=True,
        )
        # Only this account's alarms may publish (the confused-deputy conditions CloudWatch supports).
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[cloudwatch_service],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                topic,
                {
                    "Serverless-SNSRedrivePolicy": "The e-mail subscription of the alarm topic has no dead-letter "
                    "queue: an alarm stays in ALARM in CloudWatch and on the dashboard whether or not its e-mail "
                    "arrived, and a queue of undelivered alarm notifications would need these same alarms to be "
                    "noticed, a loop rather than a safeguard.",
                },
            )
        return topic

    def _pipeline_section(self, watched: Monitored, namespace: str) -> None:
        """Throughput, failures (by error code, and the failure rates that alarm), duration per step
        and the trigger, first on the dashboard."""
        machine = {"StateMachineArn": watched.state_machine.state_machine_arn}

        def executions(name: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/States",
                metric_name=name,
                dimensions_map=machine,
                statistic="Sum",
                label=label,
                period=PERIOD,
            )

        def share(
            key: str, failed: cloudwatch.IMetric, total: cloudwatch.IMetric, label: str
        ) -> cloudwatch.MathExpression:
            # Ids unique within the graph that shows every share together.
            return cloudwatch.MathExpression(
                expression=f"IF(total_{key} > 0, failed_{key} / total_{key}, 0)",
                using_metrics={f"failed_{key}": failed, f"total_{key}": total},
                label=label,
                period=PERIOD,
            )

        def sustained_rate_alarm(metric: cloudwatch.MathExpression, name: str) -> cmc.CustomMetricWithAlarm:
            return cmc.CustomMetricWithAlarm(
                metric=metric,
                alarm_friendly_name=name,
                add_alarm={
                    "Warning": cmc.CustomThreshold(
                        threshold=IMAGE_FAILURE_RATE,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        datapoints_to_alarm=SUSTAINED_PERIODS,
                        evaluation_periods=SUSTAINED_PERIODS,
                        treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                    )
                },
            )

        def duration(step: topology.Step, statistic: str) -> cloudwatch.Metric:
            return watched.functions[step.name].metric_duration(
                statistic=statistic, label=f"{step.name} {statistic}", period=PERIOD
            )

        failure_rates = [
            sustained_rate_alarm(
                share(
                    "workflow",
                    executions("ExecutionsFailed", "failed"),
                    executions("ExecutionsStarted", "started"),
                    "executions failed / started",
                ),
                "WorkflowFailureRate",
            ),
            *(
                sustained_rate_alarm(
                    share(
                        name,
                        watched.functions[name].metric_errors(statistic="Sum", period=PERIOD),
                        watched.functions[name].metric_invocations(statistic="Sum", period=PERIOD),
                        f"{name} errors / invocations",
                    ),
                    f"{name.capitalize()}FunctionErrorRate",
                )
                for name in sorted(FAIL_FOR_BAD_INPUT)
            ),
        ]
        by_error_code = cloudwatch.MathExpression(
            expression=f"SEARCH('{{{namespace},{ERROR_CODE_DIMENSION}}} MetricName=\"{FAILURES_METRIC}\"', 'Sum', "
            f"{int(PERIOD.to_seconds())})",
            using_metrics={},
            label="",
            period=PERIOD,
        )
        rule_failures = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="FailedInvocations",
            dimensions_map={"RuleName": watched.rule.rule_name},
            statistic="Sum",
            label="executions the upload rule failed to start",
            period=PERIOD,
        )
        self.facade.monitor_custom(
            alarm_friendly_name="Pipeline",
            human_readable_name="Pipeline",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title="Throughput (per 5 minutes)",
                    metrics=[
                        executions("ExecutionsStarted", "executions started"),
                        executions("ExecutionsSucceeded", "succeeded (COMPLETE, or a duplicate delivery)"),
                        executions("ExecutionsFailed", "failed (FAILED images)"),
                        cloudwatch.Metric(
                            namespace=namespace,
                            metric_name="ImagesCompleted",
                            dimensions_map={"service": topology.METADATA.service_name},
                            statistic="Sum",
                            label="images COMPLETE",
                            period=PERIOD,
                        ),
                    ],
                ),
                cmc.CustomMetricGroup(title="Failures by error code", metrics=[by_error_code]),
                cmc.CustomMetricGroup(title="Failure rates", metrics=failure_rates),
                cmc.CustomMetricGroup(
                    title="Duration per step (ms, p50 and p99)",
                    metrics=[duration(step, stat) for step in topology.WORKFLOW_STEPS for stat in ("p50", "p99")],
                ),
                cmc.CustomMetricGroup(
                    title="Trigger",
                    metrics=[
                        cmc.CustomMetricWithAlarm(
                            metric=rule_failures,
                            alarm_friendly_name="UploadRuleFailedInvocations",
                            add_alarm={
                                "Critical": cmc.CustomThreshold(
                                    threshold=0,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                )
                            },
                        )
                    ],
                ),
            ],
        )
