"""imgpipe ls, delete and token: a user's images through the API of a running stack, and the ID token
that user shows it when the stack takes tokens (serve --auth jwt)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from imgpipe.cli.options import api_options, local_stack_options
from imgpipe.cli.target import api, local_endpoint

if TYPE_CHECKING:
    from imgpipe.cli.options import Commands


def add_token(commands: Commands) -> None:
    token = commands.add_parser("token", help="print an ID token for a user of the running stack (serve --auth jwt)")
    token.add_argument("--user", required=True, help="user name; created in the local user pool if missing")
    local_stack_options(token)
    token.set_defaults(func=cmd_token)


def add_ls(commands: Commands) -> None:
    ls = commands.add_parser("ls", help="list your images, newest first (GET /images)")
    ls.add_argument("--status", choices=("AWAITING_UPLOAD", "EXPIRED", "PROCESSING", "COMPLETE", "FAILED"))
    ls.add_argument("--limit", type=int, help="images per page, 1..100 (default 20)")
    ls.add_argument("--cursor", help="the next page: the cursor a previous ls printed")
    api_options(ls)
    ls.set_defaults(func=cmd_ls)


def add_delete(commands: Commands) -> None:
    delete = commands.add_parser("delete", help="delete an image: original, renditions and record (DELETE /images/ID)")
    delete.add_argument("image_id")
    api_options(delete)
    delete.set_defaults(func=cmd_delete)


def cmd_token(args: argparse.Namespace) -> int:
    from imgpipe.local.cognito import find_user_pool, issue_token
    from imgpipe.local.provision import LocalNames

    names = LocalNames()
    endpoint = local_endpoint(args)
    cognito = endpoint.client("cognito-idp")
    try:
        pool = find_user_pool(cognito, names.user_pool, names.user_pool_client)
    except Exception as exc:
        return endpoint.failed(f"cannot reach the local stack at {endpoint.url}", exc)
    if pool is None:
        print(f"no user pool at {endpoint.url}: start the stack with `imgpipe serve --auth jwt`", file=sys.stderr)
        return 2
    print(issue_token(cognito, pool, args.user))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    target = api(args)
    try:
        page = target.client.images(limit=args.limit, cursor=args.cursor, status=args.status)
    except Exception as exc:
        return target.failed(exc)
    for item in page["items"]:
        print(f"{item['imageId']}  {item['status']:<15} {item.get('createdAt', ''):<20}  {item.get('filename', '')}")
    if not page["items"]:
        print("no images" + (f" with status {args.status}" if args.status else ""))
    if page.get("nextCursor"):  # to stderr: stdout stays one line per image
        print(f"more: imgpipe ls --cursor {page['nextCursor']}", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    target = api(args)
    try:
        target.client.delete(args.image_id)
    except Exception as exc:
        return target.failed(exc)
    print(f"deleted {args.image_id}")
    return 0
