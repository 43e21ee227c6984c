"""`imgpipe redrive --stack`: the EventBridge target's dead-letter queue is found through the stack and
each dead-lettered event starts the target's state machine; a message is deleted only once delivered."""

from __future__ import annotations

import pytest

from imgpipe import redrive

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:Pipeline"
DLQ = "arn:aws:sqs:eu-west-1:111122223333:Imgpipe-TriggerDeadLetterQueue-AB12"


class FakeCloudFormation:
    def describe_stack_resources(self, StackName):
        if StackName != "Imgpipe":
            raise RuntimeError(f"Stack with id {StackName} does not exist")
        return {
            "StackResources": [
                {"ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": "https://sqs/queue"},
                {"ResourceType": "AWS::Events::Rule", "PhysicalResourceId": "Imgpipe-TriggerUploadCreated-XY"},
            ]
        }


class FakeEvents:
    def __init__(self, targets):
        self.targets = targets

    def list_targets_by_rule(self, Rule):
        assert Rule == "Imgpipe-TriggerUploadCreated-XY"
        return {"Targets": self.targets}


class FakeQueue:
    def __init__(self, bodies):
        self.messages = {f"m{n}": body for n, body in enumerate(bodies)}
        self.in_flight: set[str] = set()

    def get_queue_url(self, QueueName, QueueOwnerAWSAccountId):
        assert (QueueName, QueueOwnerAWSAccountId) == ("Imgpipe-TriggerDeadLetterQueue-AB12", "111122223333")
        return {"QueueUrl": "https://sqs/dlq"}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, VisibilityTimeout):
        visible = [m for m in self.messages if m not in self.in_flight][:MaxNumberOfMessages]
        self.in_flight |= set(visible)
        return {"Messages": [{"MessageId": m, "ReceiptHandle": m, "Body": self.messages[m]} for m in visible]}

    def delete_message(self, QueueUrl, ReceiptHandle):
        del self.messages[ReceiptHandle]


class FakeStepFunctions:
    def __init__(self, refuse=()):
        self.started: list[tuple[str, str]] = []
        self.refuse = set(refuse)

    def start_execution(self, stateMachineArn, input):
        if input in self.refuse:
            raise RuntimeError("ExecutionLimitExceeded")
        self.started.append((stateMachineArn, input))


class FakeSession:
    def __init__(self, **clients):
        self.clients = clients

    def client(self, name):
        return self.clients[name]


def session(bodies, refuse=(), targets=None):
    target = {"Id": "pipeline", "Arn": MACHINE, "DeadLetterConfig": {"Arn": DLQ}}
    return FakeSession(
        cloudformation=FakeCloudFormation(),
        events=FakeEvents([target] if targets is None else targets),
        sqs=FakeQueue(bodies),
        stepfunctions=FakeStepFunctions(refuse),
    )


def test_each_dead_lettered_event_starts_the_targets_state_machine_and_is_deleted():
    aws = session([f'{{"n": {n}}}' for n in range(23)])
    (result,) = redrive.redrive_stack(aws, "Imgpipe")
    assert (result.source, result.target, result.delivered, result.failed) == (DLQ, MACHINE, 23, [])
    assert aws.clients["stepfunctions"].started == [(MACHINE, f'{{"n": {n}}}') for n in range(23)]
    assert aws.clients["sqs"].messages == {}


def test_an_event_that_fails_again_stays_in_the_queue():
    aws = session(['{"ok": 1}', '{"refused": 1}'], refuse=['{"refused": 1}'])
    (result,) = redrive.redrive_stack(aws, "Imgpipe")
    assert result.delivered == 1
    assert result.failed == ["m1: ExecutionLimitExceeded"]
    assert aws.clients["sqs"].messages == {"m1": '{"refused": 1}'}


def test_a_stack_without_a_dead_lettered_target_or_that_does_not_exist_is_a_clear_error():
    with pytest.raises(redrive.RedriveError, match="no EventBridge target with a dead-letter queue"):
        redrive.redrive_stack(session([], targets=[{"Id": "x", "Arn": MACHINE}]), "Imgpipe")
    with pytest.raises(redrive.RedriveError, match="cannot describe stack Nope"):
        redrive.redrive_stack(session([]), "Nope")
