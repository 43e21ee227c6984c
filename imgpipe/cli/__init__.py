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
import sys

from imgpipe import config
from imgpipe.cli import images, operations, process, serve
from imgpipe.cli.inputs import UsageError

# In the order `imgpipe --help` lists them.
COMMANDS = (
    serve.add_serve,
    process.add_process,
    operations.add_history,
    images.add_token,
    operations.add_redrive,
    images.add_ls,
    images.add_delete,
    operations.add_events,
    process.add_render,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgpipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, config.SettingsError) as exc:
        print(f"imgpipe {args.command}: {exc}", file=sys.stderr)
        return 2
