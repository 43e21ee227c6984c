"""imgpipe serve: the whole stack on this machine until Ctrl-C, with a banner that says how to use it."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import threading
from typing import TYPE_CHECKING

from imgpipe import config
from imgpipe.cli.inputs import load_settings
from imgpipe.cli.options import DEFAULT_AWS_PORT, settings_options

if TYPE_CHECKING:
    from imgpipe.cli.options import Commands


def add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the whole stack locally until Ctrl-C")
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
        settings=load_settings(args), api_key=args.api_key, log_level=args.log_level, workers=args.workers,
    )  # fmt: skip
    stack.start()
    state_file = running.register(stack.api_url, stack.aws_endpoint)  # `imgpipe history` finds it
    key_header = f" -H {shlex.quote('x-api-key: ' + args.api_key)}" if args.api_key else ""
    if stack.settings.auth == "jwt":
        token_command = "imgpipe token --user alice" + (
            f" --aws-port {stack.aws_port}" if stack.aws_port != DEFAULT_AWS_PORT else ""
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
    # Ctrl-C is ours before the banner says so: a signal sent on reading it must stop the stack cleanly.
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print("Ctrl-C to stop.", flush=True)
    try:
        stopping.wait()
        print("\nstopping…", flush=True)
    finally:
        running.unregister(state_file)
        stack.stop()
    print("stopped.")
    return 0
