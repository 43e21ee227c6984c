"""imgpipe: run the pipeline locally, push images through it, read execution history, preview.

imgpipe serve                      the whole stack on 127.0.0.1 (API :3000, AWS :3001)
imgpipe process FILE… --out DIR    start a stack, upload, wait, print history, save renditions
imgpipe history [IMAGE_ID]         execution history from a running stack (or --stack on AWS)
imgpipe render FILE… --out DIR     the same image code in-process, no stack
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from imgpipe import config


def _load_settings(args: argparse.Namespace) -> config.PipelineSettings:
    settings = config.PipelineSettings()
    if getattr(args, "settings", None):
        text = args.settings if args.settings.lstrip().startswith("{") else Path(args.settings).read_text()
        settings = config.PipelineSettings.from_json(text)
    if getattr(args, "watermark_text", None) is not None:
        from dataclasses import replace

        settings = replace(settings, watermark=replace(settings.watermark, text=args.watermark_text))
    return settings


# ---- serve ------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from imgpipe.local.pipeline import LocalPipeline

    stack = LocalPipeline(
        api_port=args.port, aws_port=args.aws_port, host=args.host,
        settings=_load_settings(args), api_key=args.api_key, log_level=args.log_level, workers=args.workers,
    )  # fmt: skip
    stack.start()
    key_header = f" -H 'x-api-key: {args.api_key}'" if args.api_key else ""
    print(f"imgpipe local stack is up\n  API          {stack.api_url}\n  AWS endpoint {stack.aws_endpoint}")
    print(f"  state machine {stack.names.state_machine_arn}")
    print(f"  buckets      {stack.names.input_bucket} (uploads), {stack.names.output_bucket} (renditions)")
    print(f"  table        {stack.names.table}")
    print("try:")
    print(
        f"  curl{key_header} '{stack.api_url}/upload-url?filename=photo.jpg&contentType=image/jpeg&size=$(stat -c%s photo.jpg)'"
    )
    print(
        f"  aws --endpoint-url {stack.aws_endpoint} stepfunctions list-executions --state-machine-arn {stack.names.state_machine_arn}"
    )
    print("Ctrl-C to stop.", flush=True)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    print("\nstopping…", flush=True)
    stack.stop()
    print("stopped.")
    return 0


# ---- process ----------------------------------------------------------------------------------
def cmd_process(args: argparse.Namespace) -> int:
    from imgpipe.client import ApiError, Client, guess_content_type
    from imgpipe.history import format_summary, local_history
    from imgpipe.local.pipeline import LocalPipeline

    out = Path(args.out)
    failures = 0
    with LocalPipeline(api_port=args.port, aws_port=args.aws_port, settings=_load_settings(args)) as stack:
        print(f"local stack: API {stack.api_url}, AWS endpoint {stack.aws_endpoint}")
        client = Client(stack.api_url)
        sfn = stack.client("stepfunctions")
        for name in args.files:
            path = Path(name)
            data = path.read_bytes()
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
            for summary in local_history(sfn, stack.names.state_machine_arn, image_id):
                print(format_summary(summary))
            if view["status"] != config.COMPLETE:
                error = view.get("error", {})
                print(f"  FAILED: {error.get('code')}: {error.get('message')}")
                failures += 1
                continue
            target = out / path.stem
            target.mkdir(parents=True, exist_ok=True)
            print("  renditions:")
            for rendition in view["renditions"]:
                file = target / Path(rendition["key"]).name
                file.write_bytes(client.download(rendition["url"]))
                print(
                    f"    {file}  {rendition['width']}x{rendition['height']} {rendition['format']} {rendition['bytes']} bytes"
                )
    return 1 if failures else 0


# ---- history ----------------------------------------------------------------------------------
def cmd_history(args: argparse.Namespace) -> int:
    from imgpipe.history import format_summary, local_history, summarise

    if args.stack:
        from imgpipe import cloudwatch_history

        try:
            loaded = cloudwatch_history.load(args.stack, args.image_id)
        except cloudwatch_history.HistoryError as exc:
            print(f"cannot read history of stack {args.stack}: {exc}", file=sys.stderr)
            return 2
        summaries = [summarise(arn, events) for arn, events in loaded]
    else:
        import boto3

        from imgpipe.local.pipeline import LOCAL_CREDENTIALS
        from imgpipe.local.provision import LocalNames

        names = LocalNames()
        endpoint = args.endpoint_url or f"http://127.0.0.1:{args.aws_port}"
        credentials = {k.lower(): v for k, v in LOCAL_CREDENTIALS.items()}
        sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=names.region, **credentials)
        try:
            summaries = local_history(sfn, names.state_machine_arn, args.image_id)
        except Exception as exc:
            print(f"cannot read history from {endpoint}: {exc}\nIs `imgpipe serve` running?", file=sys.stderr)
            return 2
    if not summaries:
        print("no executions" + (f" for image {args.image_id}" if args.image_id else ""))
        return 1 if args.image_id else 0
    print("\n\n".join(format_summary(s) for s in summaries))
    return 0


# ---- render -----------------------------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    from imgpipe.errors import PermanentError
    from imgpipe.image.render import render

    settings = _load_settings(args)
    out = Path(args.out)
    failures = 0
    for name in args.files:
        path = Path(name)
        started = time.perf_counter()
        try:
            info, encoded = render(path.read_bytes(), settings)
        except PermanentError as exc:
            print(f"{path}: {exc.code}: {exc}")
            failures += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        target = out / path.stem
        target.mkdir(parents=True, exist_ok=True)
        print(f"{path}: {info.format} {info.width}x{info.height} in {elapsed:.0f} ms")
        for item in encoded:
            file = target / f"{item.name}.{item.extension}"
            file.write_bytes(item.data)
            print(f"  {file}  {item.width}x{item.height} {item.format} {len(item.data)} bytes")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def settings_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--settings", help="pipeline settings: a JSON file or a JSON string (see imgpipe/config.py)")
        p.add_argument("--watermark-text", help="override the watermark text ('' for none)")

    serve = sub.add_parser("serve", help="run the whole stack locally until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    serve.add_argument("--aws-port", type=int, default=3001, help="AWS endpoint port (default 3001)")
    serve.add_argument("--api-key", help="require this x-api-key header, as the deployed API does")
    serve.add_argument("--log-level", default="INFO", help="the functions' log level (default INFO)")
    serve.add_argument(
        "--workers",
        type=int,
        help="handler worker processes (default: one per core; 0: in this process, for debuggers)",
    )
    settings_options(serve)
    serve.set_defaults(func=cmd_serve)

    process = sub.add_parser("process", help="process files end to end through a fresh local stack")
    process.add_argument("files", nargs="+")
    process.add_argument("--out", default="out", help="where to save the renditions (default ./out)")
    process.add_argument("--timeout", type=float, default=120, help="seconds to wait for each image")
    process.add_argument("--port", type=int, default=0, help="API port (default: any free port)")
    process.add_argument("--aws-port", type=int, default=0, help="AWS endpoint port (default: any free port)")
    settings_options(process)
    process.set_defaults(func=cmd_process)

    history = sub.add_parser("history", help="execution history, step by step")
    history.add_argument("image_id", nargs="?")
    history.add_argument("--aws-port", type=int, default=3001)
    history.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")
    history.add_argument("--stack", help="a deployed stack's name: read history from its CloudWatch log group")
    history.set_defaults(func=cmd_history)

    render = sub.add_parser("render", help="resize + watermark in-process, no stack (preview your settings)")
    render.add_argument("files", nargs="+")
    render.add_argument("--out", default="out")
    settings_options(render)
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
