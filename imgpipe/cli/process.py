"""imgpipe process and imgpipe render: files in, renditions out, one folder per input.  ``process``
goes through a fresh local stack (upload, workflow, history); ``render`` calls the image code in this
process, no stack."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imgpipe import config
from imgpipe.cli.inputs import UsageError, load_settings, output_folders, read_input
from imgpipe.cli.options import OUT_HELP, settings_options

if TYPE_CHECKING:
    from imgpipe.cli.options import Commands


def add_process(commands: Commands) -> None:
    process = commands.add_parser("process", help="process files end to end through a fresh local stack")
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


def add_render(commands: Commands) -> None:
    render = commands.add_parser("render", help="resize + watermark in-process, no stack (preview your settings)")
    render.add_argument("files", nargs="+")
    render.add_argument("--out", default="out", help=OUT_HELP)
    settings_options(render)
    render.set_defaults(func=cmd_render)


def cmd_process(args: argparse.Namespace) -> int:
    from imgpipe.client import ApiError, Client
    from imgpipe.history import format_summary, image_history
    from imgpipe.local.pipeline import LocalPipeline
    from imgpipe.uploads import guess_content_type

    out = Path(args.out)
    failures = 0
    settings = load_settings(args)
    # One client, one file at a time: one warm API worker, as for every other function.
    pipeline = LocalPipeline(
        api_port=args.port, aws_port=args.aws_port, settings=settings, workers=args.workers, api_workers=args.workers
    )
    with pipeline as stack:
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


def cmd_render(args: argparse.Namespace) -> int:
    from imgpipe.errors import PermanentError
    from imgpipe.image.render import render

    settings = load_settings(args)
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


def _finish(failures: int, total: int) -> int:
    if failures:
        print(f"\n{failures} of {total} file{'s' if total > 1 else ''} failed", file=sys.stderr)
    return 1 if failures else 0
