"""imgpipe: run the pipeline locally, push images through it, read execution history, preview.

imgpipe serve                      the whole stack on 127.0.0.1 (API :3000, AWS :3001)
imgpipe process FILE… --out DIR    start a stack, upload, wait, print history, save renditions
imgpipe history [IMAGE_ID]         execution history from a running stack (or --stack on AWS)
imgpipe redrive                    deliver dead-lettered events again (or --stack on AWS)
imgpipe token --user NAME          an ID token from the running stack's user pool (serve --auth jwt)
imgpipe ls [--status S]            your images, newest first, from the running stack's API
imgpipe delete IMAGE_ID            delete an image: original, renditions and record
imgpipe events                     print image events as they are published (or --stack on AWS)
imgpipe render FILE… --out DIR     the same image code in-process, no stack
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from imgpipe import config
from imgpipe.cli_inputs import UsageError, output_folders, read_input, read_settings

DEFAULT_AWS_PORT = 3001  # serve's AWS endpoint unless --aws-port says otherwise


def _load_settings(args: argparse.Namespace) -> config.PipelineSettings:
    settings = config.PipelineSettings()
    if getattr(args, "settings", None) is not None:
        settings = read_settings(args.settings)
    if getattr(args, "watermark_text", None) is not None:
        from dataclasses import replace

        try:
            settings = replace(settings, watermark=replace(settings.watermark, text=args.watermark_text))
        except config.SettingsError as exc:
            raise UsageError(f"--watermark-text: {exc}") from None
    modes = {name: getattr(args, name) for name in ("auth", "delivery") if getattr(args, name, None)}
    if modes:  # --auth / --delivery win over the same keys in --settings
        from dataclasses import replace

        settings = replace(settings, **modes)
    return settings


# ---- serve ------------------------------------------------------------------------------------
def _show_activity(level: str) -> None:
    """serve's running commentary (imgpipe.local.activity: requests, finished executions) on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    local = logging.getLogger("imgpipe.local")
    local.addHandler(handler)
    local.setLevel(level)
    local.propagate = False


def cmd_serve(args: argparse.Namespace) -> int:
    from imgpipe.local import running
    from imgpipe.local.pipeline import LocalPipeline

    _show_activity(args.log_level)

    stack = LocalPipeline(
        api_port=args.port, aws_port=args.aws_port, host=args.host,
        settings=_load_settings(args), api_key=args.api_key, log_level=args.log_level, workers=args.workers,
    )  # fmt: skip
    stack.start()
    state_file = running.register(stack.api_url, stack.aws_endpoint)  # `imgpipe history` finds it
    key_header = f" -H {shlex.quote('x-api-key: ' + args.api_key)}" if args.api_key else ""
    if stack.settings.auth == "jwt":
        token_command = "imgpipe token --user alice" + (
            f" --aws-port {stack.aws_port}" if stack.aws_port != 3001 else ""
        )
        key_header += f' -H "Authorization: Bearer $({token_command})"'
    print(f"imgpipe local stack is up\n  API          {stack.api_url}\n  AWS endpoint {stack.aws_endpoint}")
    print(f"  upload page  {stack.api_url}/")
    print(f"  state machine {stack.names.state_machine_arn}")
    print(f"  buckets      {stack.names.input_bucket} (uploads), {stack.names.output_bucket} (renditions)")
    print(f"  table        {stack.names.table}")
    print(
        f"  delivery     {stack.settings.delivery}"
        + (f" (renditions at {stack.renditions_base_url}/renditions/…)" if stack.settings.delivery == "cdn" else "")
    )
    if stack.user_pool:
        print(f"  auth         jwt: user pool {stack.user_pool.pool_id}, app client {stack.user_pool.client_id}")
    print("try:")
    print(
        # Double quotes: the shell expands $(...) in the URL when this line is pasted.
        f'  curl{key_header} "{stack.api_url}/upload-url?filename=photo.jpg&contentType=image/jpeg'
        '&size=$(stat -c%s photo.jpg)"'
    )
    print(
        f"  aws --endpoint-url {stack.aws_endpoint} stepfunctions list-executions "
        f"--state-machine-arn {stack.names.state_machine_arn}"
    )
    print("Ctrl-C to stop.", flush=True)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stopping.wait()
        print("\nstopping…", flush=True)
    finally:
        running.unregister(state_file)
        stack.stop()
    print("stopped.")
    return 0


# ---- process ----------------------------------------------------------------------------------
def cmd_process(args: argparse.Namespace) -> int:
    from imgpipe.client import ApiError, Client
    from imgpipe.history import format_summary, image_history
    from imgpipe.local.pipeline import LocalPipeline
    from imgpipe.uploads import guess_content_type

    out = Path(args.out)
    failures = 0
    settings = _load_settings(args)
    with LocalPipeline(api_port=args.port, aws_port=args.aws_port, settings=settings, workers=args.workers) as stack:
        print(f"local stack: API {stack.api_url}, AWS endpoint {stack.aws_endpoint}")
        client = Client(stack.api_url)
        sfn = stack.client("stepfunctions")
        paths = [Path(name) for name in args.files]
        for path, folder in zip(paths, output_folders(paths), strict=True):
            try:
                data = read_input(path)
            except UsageError as exc:
                print(f"\n{exc}", file=sys.stderr)
                failures += 1
                continue
            started = time.monotonic()
            try:
                image_id = client.upload(path.name, data, guess_content_type(path))
                # Local: no throttle to spare, so poll briskly for an accurate upload-to-done time.
                view = client.wait(image_id, deadline_s=args.timeout, interval_s=0.02, max_interval_s=0.1)
            except (ApiError, TimeoutError) as exc:
                print(f"\n{path}: {exc}")
                failures += 1
                continue
            elapsed = time.monotonic() - started
            print(f"\n{path} -> image {image_id}: {view['status']} in {elapsed:.2f} s (upload to {view['status']})")
            for summary in image_history(sfn, stack.client("dynamodb"), stack.names.table, image_id):
                print(format_summary(summary))
            if view["status"] != config.COMPLETE:
                error = view.get("error", {})
                print(f"  FAILED: {error.get('code')}: {error.get('message')}")
                failures += 1
                continue
            target = out / folder
            target.mkdir(parents=True, exist_ok=True)
            print("  renditions:")
            for rendition in view["renditions"]:
                file = target / Path(rendition["key"]).name
                file.write_bytes(client.download(rendition["url"]))
                size = f"{rendition['width']}x{rendition['height']}"
                print(f"    {file}  {size} {rendition['format']} {rendition['bytes']} bytes")
    return _finish(failures, len(args.files))


def _finish(failures: int, total: int) -> int:
    if failures:
        print(f"\n{failures} of {total} file{'s' if total > 1 else ''} failed", file=sys.stderr)
    return 1 if failures else 0


# ---- history ----------------------------------------------------------------------------------
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
        endpoint, found = _local_endpoint(args)
        sfn = _local_client("stepfunctions", endpoint)
        try:
            if args.image_id:  # the record names its execution: no need to describe every one
                dynamodb = _local_client("dynamodb", endpoint)
                summaries = image_history(sfn, dynamodb, names.table, args.image_id)
            else:
                summaries = local_history(sfn, names.state_machine_arn)
        except Exception as exc:
            print(f"cannot read history from {endpoint}: {exc}\n{_where_is_serve(found)}", file=sys.stderr)
            return 2
    if not summaries:
        print("no executions" + (f" for image {args.image_id}" if args.image_id else ""))
        return 1 if args.image_id else 0
    print("\n\n".join(format_summary(s) for s in summaries))
    return 0


# ---- token -------------------------------------------------------------------------------------
def cmd_token(args: argparse.Namespace) -> int:
    import boto3

    from imgpipe.local.cognito import find_user_pool, issue_token
    from imgpipe.local.pipeline import LOCAL_CREDENTIALS
    from imgpipe.local.provision import LocalNames

    names = LocalNames()
    endpoint, found = _local_endpoint(args)
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=names.region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    try:
        pool = find_user_pool(cognito, names.user_pool, names.user_pool_client)
    except Exception as exc:
        print(f"cannot reach the local stack at {endpoint}: {exc}\n{_where_is_serve(found)}", file=sys.stderr)
        return 2
    if pool is None:
        print(f"no user pool at {endpoint}: start the stack with `imgpipe serve --auth jwt`", file=sys.stderr)
        return 2
    print(issue_token(cognito, pool, args.user))
    return 0


def _local_endpoint(args: argparse.Namespace) -> tuple[str, str]:
    """The AWS endpoint of the local stack to talk to, and how it was found (for error messages):
    --endpoint-url or --aws-port if given, else the one running `imgpipe serve`, else port 3001."""
    from imgpipe.local import running

    if args.endpoint_url:
        return args.endpoint_url, "given"
    if args.aws_port is not None:
        return f"http://127.0.0.1:{args.aws_port}", "given"
    stacks = running.running()
    if len(stacks) > 1:
        listed = ", ".join(f"{s.aws_endpoint} (pid {s.pid})" for s in stacks)
        raise UsageError(f"several `imgpipe serve` stacks are running: {listed}; choose one with --aws-port")
    if stacks:
        return stacks[0].aws_endpoint, "running"
    return f"http://127.0.0.1:{DEFAULT_AWS_PORT}", "default"


def _local_client(service: Literal["stepfunctions", "dynamodb", "sqs", "events"], endpoint: str) -> Any:
    """A client of the local stack's emulator at ``endpoint``, with the credentials the stack uses."""
    import boto3

    from imgpipe.local.pipeline import LOCAL_CREDENTIALS
    from imgpipe.local.provision import LocalNames

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=LocalNames().region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def _where_is_serve(found: str) -> str:
    if found == "given":
        return "Is `imgpipe serve` running there? It prints its AWS endpoint when it starts."
    if found == "running":
        return "The `imgpipe serve` found running does not answer there; give its port with --aws-port."
    return "No running `imgpipe serve` was found: start one, or give its AWS endpoint port with --aws-port."


# ---- redrive ----------------------------------------------------------------------------------
def cmd_redrive(args: argparse.Namespace) -> int:
    import boto3

    from imgpipe import redrive

    try:
        if args.stack:
            results = redrive.redrive_stack(boto3.session.Session(), args.stack)
        else:
            from imgpipe.local.provision import LocalNames

            names = LocalNames()
            endpoint, found = _local_endpoint(args)
            sqs = _local_client("sqs", endpoint)
            try:
                results = [redrive.redrive_local(sqs, names.dead_letter_queue, names.queue)]
            except Exception as exc:
                print(f"cannot redrive at {endpoint}: {exc}\n{_where_is_serve(found)}", file=sys.stderr)
                return 2
    except redrive.RedriveError as exc:
        print(f"cannot redrive: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.delivered} event(s) from {result.source} redriven to {result.target}")
        for failure in result.failed:
            print(f"  still dead-lettered: {failure}")
    return 1 if any(result.failed for result in results) else 0


# ---- ls, delete: the API of the running stack ---------------------------------------------------
DEFAULT_API_URL = "http://127.0.0.1:3000"  # serve's API unless --port says otherwise


def _api_client(args: argparse.Namespace) -> tuple[Any, str]:
    """A client for the API to talk to, and how it was found: --api-url if given, else the running
    `imgpipe serve`'s, else port 3000; with --api-key / --token as the API asks."""
    from imgpipe.client import Client
    from imgpipe.local import running

    if args.api_url:
        url, found = args.api_url, "given"
    else:
        stacks = running.running()
        if len(stacks) > 1:
            listed = ", ".join(f"{s.api_url} (pid {s.pid})" for s in stacks)
            raise UsageError(f"several `imgpipe serve` stacks are running: {listed}; choose one with --api-url")
        url, found = (stacks[0].api_url, "running") if stacks else (DEFAULT_API_URL, "default")
    return Client(url, api_key=args.api_key, token=args.token), found


def _api_failure(exc: Exception, url: str, found: str) -> int:
    from imgpipe.client import ApiError

    if isinstance(exc, ApiError):
        print(f"{exc}", file=sys.stderr)
        return 1
    hint = {
        "given": "Is the API running there?",
        "running": "The `imgpipe serve` found running does not answer there; give its URL with --api-url.",
        "default": "No running `imgpipe serve` was found: start one, or give its API URL with --api-url.",
    }[found]
    print(f"cannot reach the API at {url}: {exc}\n{hint}", file=sys.stderr)
    return 2


def cmd_ls(args: argparse.Namespace) -> int:
    client, found = _api_client(args)
    try:
        page = client.images(limit=args.limit, cursor=args.cursor, status=args.status)
    except Exception as exc:
        return _api_failure(exc, client.api_url, found)
    for item in page["items"]:
        print(f"{item['imageId']}  {item['status']:<15} {item.get('createdAt', ''):<20}  {item.get('filename', '')}")
    if not page["items"]:
        print("no images" + (f" with status {args.status}" if args.status else ""))
    if page.get("nextCursor"):  # to stderr: stdout stays one line per image
        print(f"more: imgpipe ls --cursor {page['nextCursor']}", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    client, found = _api_client(args)
    try:
        client.delete(args.image_id)
    except Exception as exc:
        return _api_failure(exc, client.api_url, found)
    print(f"deleted {args.image_id}")
    return 0


# ---- events -----------------------------------------------------------------------------------
def cmd_events(args: argparse.Namespace) -> int:
    import json

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
        endpoint, found = _local_endpoint(args)
        bus, where = args.bus, endpoint
        events, sqs = _local_client("events", endpoint), _local_client("sqs", endpoint)
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
        else:
            print(f"cannot reach the local stack at {where}: {exc}\n{_where_is_serve(found)}", file=sys.stderr)
        return 2
    return 0


# ---- render -----------------------------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    from imgpipe.errors import PermanentError
    from imgpipe.image.render import render

    settings = _load_settings(args)
    out = Path(args.out)
    failures = 0
    paths = [Path(name) for name in args.files]
    for path, folder in zip(paths, output_folders(paths), strict=True):
        try:
            data = read_input(path)
        except UsageError as exc:
            print(exc, file=sys.stderr)
            failures += 1
            continue
        started = time.perf_counter()
        try:
            info, encoded = render(data, settings)
        except PermanentError as exc:
            print(f"{path}: {exc.code}: {exc}")
            failures += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        print(f"{path}: {info.format} {info.width}x{info.height} in {elapsed:.0f} ms")
        for item in encoded:
            file = target / f"{item.name}.{item.extension}"
            file.write_bytes(item.data)
            print(f"  {file}  {item.width}x{item.height} {item.format} {len(item.data)} bytes")
    return _finish(failures, len(args.files))


OUT_HELP = (
    "where to save the renditions (default ./out): OUT/<name>/ per input, the name being the file's "
    "stem, or its whole name when two inputs share a stem, numbered when even those clash"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def settings_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--settings", help="pipeline settings: a JSON file or a JSON string (see imgpipe/config.py)")
        p.add_argument("--watermark-text", help="override the watermark text ('' for none)")

    serve = sub.add_parser("serve", help="run the whole stack locally until Ctrl-C")
    serve.add_argument(
        "--host", default="127.0.0.1", help="the API's address (default 127.0.0.1; the AWS endpoint stays on loopback)"
    )
    serve.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    serve.add_argument(
        "--aws-port", type=int, default=DEFAULT_AWS_PORT, help=f"AWS endpoint port (default {DEFAULT_AWS_PORT})"
    )
    serve.add_argument("--api-key", help="require this x-api-key header, as the deployed API does")
    serve.add_argument(
        "--auth",
        choices=config.AUTH_MODES,
        help="apiKey (default): every caller sees every image; jwt: Cognito ID tokens "
        "(Authorization: Bearer, from `imgpipe token`), each user sees only their own images",
    )
    serve.add_argument(
        "--delivery",
        choices=config.DELIVERY_MODES,
        help="cdn (default): stable unsigned rendition URLs on the API port; presigned: expiring S3 URLs",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the functions' log level, and serve's own: INFO (default) shows a line per API request "
        "and per finished execution",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="handler worker processes (default: one per core; 0: in this process, for debuggers)",
    )
    settings_options(serve)
    serve.set_defaults(func=cmd_serve)

    process = sub.add_parser("process", help="process files end to end through a fresh local stack")
    process.add_argument("files", nargs="+")
    process.add_argument("--out", default="out", help=OUT_HELP)
    process.add_argument("--timeout", type=float, default=120, help="seconds to wait for each image")
    process.add_argument("--port", type=int, default=0, help="API port (default: any free port)")
    process.add_argument("--aws-port", type=int, default=0, help="AWS endpoint port (default: any free port)")
    process.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per function (default 1: files are processed one at a time, so more would "
        "only cost start-up; 0: in this process, for debuggers)",
    )
    settings_options(process)
    process.set_defaults(func=cmd_process)

    history = sub.add_parser("history", help="execution history, step by step")
    history.add_argument("image_id", nargs="?")
    history.add_argument(
        "--aws-port", type=int, help="AWS endpoint port of the local stack (default: the running `imgpipe serve`)"
    )
    history.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")
    history.add_argument("--stack", help="a deployed stack's name: read history from its CloudWatch log group")
    history.set_defaults(func=cmd_history)

    token = sub.add_parser("token", help="print an ID token for a user of the running stack (serve --auth jwt)")
    token.add_argument("--user", required=True, help="user name; created in the local user pool if missing")
    token.add_argument(
        "--aws-port", type=int, help="AWS endpoint port of the local stack (default: the running `imgpipe serve`)"
    )
    token.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")
    token.set_defaults(func=cmd_token)

    redrive = sub.add_parser("redrive", help="deliver dead-lettered events again (local DLQ, or --stack on AWS)")
    redrive.add_argument("--aws-port", type=int, help="AWS endpoint port of the local stack (default: the running one)")
    redrive.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")
    redrive.add_argument("--stack", help="a deployed stack's name: redrive its EventBridge target's dead-letter queue")
    redrive.set_defaults(func=cmd_redrive)

    def api_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api-url", help=f"the API (default: the running `imgpipe serve`'s, else {DEFAULT_API_URL})")
        p.add_argument("--api-key", help="the x-api-key header (serve --api-key, or a deployed stack's key)")
        p.add_argument("--token", help="an ID token, when the API takes tokens (from `imgpipe token`)")

    ls = sub.add_parser("ls", help="list your images, newest first (GET /images)")
    ls.add_argument("--status", choices=("AWAITING_UPLOAD", "EXPIRED", "PROCESSING", "COMPLETE", "FAILED"))
    ls.add_argument("--limit", type=int, help="images per page, 1..100 (default 20)")
    ls.add_argument("--cursor", help="the next page: the cursor a previous ls printed")
    api_options(ls)
    ls.set_defaults(func=cmd_ls)

    delete = sub.add_parser("delete", help="delete an image: original, renditions and record (DELETE /images/ID)")
    delete.add_argument("image_id")
    api_options(delete)
    delete.set_defaults(func=cmd_delete)

    events = sub.add_parser("events", help="print image events as they are published, one JSON line each")
    events.add_argument(
        "--detail-type",
        action="append",
        choices=("ImageProcessed", "ImageFailed", "ImageDeleted"),
        help="only these (repeat for several; default: all three)",
    )
    events.add_argument("--count", type=int, help="stop after this many events (default: until Ctrl-C)")
    events.add_argument("--bus", default=config.DEFAULT_EVENT_BUS, help="the local bus (settings event_bus_name)")
    events.add_argument("--aws-port", type=int, help="AWS endpoint port of the local stack (default: the running one)")
    events.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")
    events.add_argument("--stack", help="a deployed stack's name: follow its bus (your AWS credentials)")
    events.set_defaults(func=cmd_events)

    render = sub.add_parser("render", help="resize + watermark in-process, no stack (preview your settings)")
    render.add_argument("files", nargs="+")
    render.add_argument("--out", default="out", help=OUT_HELP)
    settings_options(render)
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, config.SettingsError) as exc:
        print(f"imgpipe {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
