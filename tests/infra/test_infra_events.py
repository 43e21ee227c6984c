"""The image events and the owner index in the synthesized template: one publisher, the table's
stream into it with the filter and retries the local stack uses too, and the index GET /images
queries, all from the definitions in imgpipe.config and imgpipe.topology."""

from __future__ import annotations

import json
from typing import Any

from infra_support import Synth

from imgpipe import config, topology


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principals_allowed(synth: Synth, action: str) -> list[str]:
    """Every role (by logical id) that some policy of the template allows ``action``."""
    found = []
    for res in synth.template["Resources"].values():
        if res["Type"] != "AWS::IAM::Policy":
            continue
        for statement in res["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and action in as_list(statement["Action"]):
                found += [role["Ref"] for role in res["Properties"]["Roles"]]
    return found


def test_events_are_published_by_exactly_one_principal_the_events_function(synth: Synth) -> None:
    events_fn = synth.stack.functions.functions[topology.EVENTS.name]
    assert principals_allowed(synth, "events:PutEvents") == [synth.logical_id(events_fn.role)]


def test_the_table_has_the_owner_index_and_a_stream_of_old_and_new_images(synth: Synth) -> None:
    (table,) = synth.resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    index = config.OWNER_INDEX
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.partition_key, "KeyType": "HASH"},
                {"AttributeName": index.sort_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
        }
    ]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_stream_reaches_the_events_function_filtered_with_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    (mapping,) = synth.resources("AWS::Lambda::EventSourceMapping").values()
    props: dict[str, Any] = mapping["Properties"]
    table_id = synth.logical_id(synth.stack.table.table)
    assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert props["FunctionName"] == {"Ref": synth.logical_id(synth.stack.functions.functions[topology.EVENTS.name])}
    assert [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]] == [topology.STREAM_FILTER]
    assert props["BatchSize"] == topology.STREAM_BATCH_SIZE
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == topology.STREAM_RETRY_ATTEMPTS
    dlq_id = synth.logical_id(synth.stack.events.dead_letter_queue)
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}
    queue = synth.resource(dlq_id)["Properties"]
    assert queue["SqsManagedSseEnabled"] is True


def test_only_the_api_queries_and_only_its_own_index(synth: Synth) -> None:
    api_role = synth.logical_id(synth.stack.functions.functions[topology.API.name].role)
    assert principals_allowed(synth, "dynamodb:Query") == [api_role]
    assert principals_allowed(synth, "dynamodb:Scan") == []
