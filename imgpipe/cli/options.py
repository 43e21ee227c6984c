"""The options several commands share, declared once so that they read and behave the same in each."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    # What build_parser hands each command module to add its subcommands to.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULT_API_URL = "http://127.0.0.1:3000"  # serve's API unless --port says otherwise
DEFAULT_AWS_PORT = 3001  # serve's AWS endpoint unless --aws-port says otherwise

OUT_HELP = (
    "where to save the renditions (default ./out): OUT/<name>/ per input, the name being the file's "
    "stem, or its whole name when two inputs share a stem, numbered when even those clash"
)


def settings_options(parser: argparse.ArgumentParser) -> None:
    """--settings and --watermark-text (read by inputs.load_settings)."""
    parser.add_argument("--settings", help="pipeline settings: a JSON file or a JSON string (see imgpipe/config.py)")
    parser.add_argument("--watermark-text", help="override the watermark text ('' for none)")


def local_stack_options(parser: argparse.ArgumentParser) -> None:
    """Where the local stack's AWS endpoint is (read by target.local_endpoint)."""
    parser.add_argument(
        "--aws-port", type=int, help="AWS endpoint port of the local stack (default: the running `imgpipe serve`)"
    )
    parser.add_argument("--endpoint-url", help="AWS endpoint of a running local stack")


def api_options(parser: argparse.ArgumentParser) -> None:
    """Which API, and the credentials it asks for (read by target.api)."""
    parser.add_argument("--api-url", help=f"the API (default: the running `imgpipe serve`'s, else {DEFAULT_API_URL})")
    parser.add_argument("--api-key", help="the x-api-key header (serve --api-key, or a deployed stack's key)")
    parser.add_argument("--token", help="an ID token, when the API takes tokens (from `imgpipe token`)")
