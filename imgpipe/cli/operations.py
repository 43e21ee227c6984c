"""imgpipe history, redrive and events: what a stack did, what it dead-lettered and what it publishes,
from the local stack (found by itself) or a deployed one (--stack, with your AWS credentials)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from imgpipe import config
from imgpipe.cli.options import local_stack_options
from imgpipe.cli.target import local_endpoint

if TYPE_CHECKING:
    from imgpipe.cli.options import Commands


def add_history(commands: Commands) -> None:
    history = commands.add_parser("history", help="execution history, step by step")
    history.add_argument("image_id", nargs="?")
    local_stack_options(history)
    history.add_argument("--stack", help="a deployed stack's name: read history from its CloudWatch log group")
    history.set_defaults(func=cmd_history)


def add_redrive(commands: Commands) -> None:
    redrive = commands.add_parser("redrive", help="deliver dead-lettered events again (local DLQ, or --stack on AWS)")
    local_stack_options(redrive)
    redrive.add_argument("--stack", help="a deployed stack's name: redrive its EventBridge target's dead-letter queue")
    redrive.set_defaults(func=cmd_redrive)


def add_events(commands: Commands) -> None:
    events = commands.add_parser("events", help="print image events as they are published, one JSON line each")
    events.add_argument(
        "--detail-type",
        action="append",
        choices=("ImageProcessed", "ImageFailed", "ImageDeleted"),
        help="only these (repeat for several; default: all three)",
    )
    events.add_argument("--count", type=int, help="stop after this many events (default: until Ctrl-C)")
    events.add_argument("--bus", default=config.DEFAULT_EVENT_BUS, help="the local bus (settings event_bus_name)")
    local_stack_options(events)
    events.add_argument("--stack", help="a deployed stack's name: follow its bus (your AWS credentials)")
    events.set_defaults(func=cmd_events)


def cmd_history(args: argparse.Namespace) -> int:
    from imgpipe.history import format_summary, image_history, local_history, summarise

    if args.stack:
        from imgpipe import cloudwatch_history, topology

        try:
            output_key = topology.STATE_MACHINE_LOG_GROUP_OUTPUT
            loaded = cloudwatch_history.load(args.stack, args.image_id, output_key=output_key)
        except cloudwatch_history.HistoryError as exc:
            print(f"cannot read history of stack {args.stack}: {exc}", file=sys.stderr)
            return 2
        summaries = [summarise(arn, events) for arn, events in loaded]
    else:
        from imgpipe.local.provision import LocalNames

        names = LocalNames()
        endpoint = local_endpoint(args)
        sfn = endpoint.client("stepfunctions")
        try:
            if args.image_id:  # the record names its execution: no need to describe every one
                summaries = image_history(sfn, endpoint.client("dynamodb"), names.table, args.image_id)
            else:
                summaries = local_history(sfn, names.state_machine_arn)
        except Exception as exc:
            return endpoint.failed(f"cannot read history from {endpoint.url}", exc)
    if not summaries:
        print("no executions" + (f" for image {args.image_id}" if args.image_id else ""))
        return 1 if args.image_id else 0
    print("\n\n".join(format_summary(s) for s in summaries))
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    import boto3

    from imgpipe import redrive

    try:
        if args.stack:
            results = redrive.redrive_stack(boto3.session.Session(), args.stack)
        else:
            from imgpipe.local.provision import LocalNames

            names = LocalNames()
            endpoint = local_endpoint(args)
            try:
                results = [redrive.redrive_local(endpoint.client("sqs"), names.dead_letter_queue, names.queue)]
            except Exception as exc:
                return endpoint.failed(f"cannot redrive at {endpoint.url}", exc)
    except redrive.RedriveError as exc:
        print(f"cannot redrive: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.delivered} event(s) from {result.source} redriven to {result.target}")
        for failure in result.failed:
            print(f"  still dead-lettered: {failure}")
    return 1 if any(result.failed for result in results) else 0


def cmd_events(args: argparse.Namespace) -> int:
    import json
    import signal
    import threading

    import boto3

    from imgpipe import event_tail

    if args.stack:  # a deployed stack: its bus, in the account of your AWS credentials
        session = boto3.session.Session()
        try:
            outputs = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]["Outputs"]
        except Exception as exc:
            print(f"cannot read stack {args.stack}: {exc}", file=sys.stderr)
            return 2
        bus = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "EventBusName"), config.DEFAULT_EVENT_BUS)
        events, sqs, where = session.client("events"), session.client("sqs"), f"stack {args.stack}"
    else:
        endpoint = local_endpoint(args)
        bus, where = args.bus, endpoint.url
        events, sqs = endpoint.client("events"), endpoint.client("sqs")
    detail_types = tuple(args.detail_type or event_tail.DETAIL_TYPES)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        with event_tail.subscribed(events, sqs, bus, detail_types) as subscription:
            print(f"listening on bus {bus} of {where} (rule {subscription.rule}); Ctrl-C to stop", file=sys.stderr)
            event_tail.tail(sqs, subscription, lambda e: print(json.dumps(e), flush=True), stopping, args.count)
    except Exception as exc:
        if args.stack:
            print(f"cannot follow the events of stack {args.stack}: {exc}", file=sys.stderr)
            return 2
        return endpoint.failed(f"cannot reach the local stack at {where}", exc)
    return 0
