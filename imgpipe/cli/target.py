"""The stack a command talks to when it is not started by the command: the local stack's AWS endpoint
or API (given, else the running `imgpipe serve`'s, else the default port), and what to tell the user
when nothing answers there."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from imgpipe.cli.inputs import UsageError
from imgpipe.cli.options import DEFAULT_API_URL, DEFAULT_AWS_PORT

if TYPE_CHECKING:
    from imgpipe.client import Client
    from imgpipe.local.running import RunningStack

Found = Literal["given", "running", "default"]
# The emulator's services the commands call (a Literal, so boto3-stubs can pick each client's overload).
LocalService = Literal["stepfunctions", "dynamodb", "sqs", "events", "cognito-idp"]


def _the_running_stack(address: Callable[[RunningStack], str], option: str) -> RunningStack | None:
    """The one running `imgpipe serve`, or None; several are a question only the user can answer."""
    from imgpipe.local import running

    stacks = running.running()
    if len(stacks) > 1:
        listed = ", ".join(f"{address(s)} (pid {s.pid})" for s in stacks)
        raise UsageError(f"several `imgpipe serve` stacks are running: {listed}; choose one with {option}")
    return stacks[0] if stacks else None


@dataclass(frozen=True)
class LocalEndpoint:
    """The local stack's AWS endpoint, and how it was found (for what to say when it does not answer)."""

    url: str
    found: Found

    def client(self, service: LocalService) -> Any:
        """A client of the emulator at this endpoint, with the credentials the stack uses."""
        import boto3

        from imgpipe.local.pipeline import LOCAL_CREDENTIALS
        from imgpipe.local.provision import LocalNames

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=LocalNames().region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def failed(self, what: str, exc: Exception) -> int:
        """Say that ``what`` failed here, why, and where serve might be instead; exit status 2."""
        print(f"{what}: {exc}\n{self.where_is_serve()}", file=sys.stderr)
        return 2

    def where_is_serve(self) -> str:
        if self.found == "given":
            return "Is `imgpipe serve` running there? It prints its AWS endpoint when it starts."
        if self.found == "running":
            return "The `imgpipe serve` found running does not answer there; give its port with --aws-port."
        return "No running `imgpipe serve` was found: start one, or give its AWS endpoint port with --aws-port."


def local_endpoint(args: argparse.Namespace) -> LocalEndpoint:
    """--endpoint-url or --aws-port if given, else the running `imgpipe serve`'s, else port 3001."""
    if args.endpoint_url:
        return LocalEndpoint(args.endpoint_url, "given")
    if args.aws_port is not None:
        return LocalEndpoint(f"http://127.0.0.1:{args.aws_port}", "given")
    stack = _the_running_stack(lambda s: s.aws_endpoint, "--aws-port")
    if stack:
        return LocalEndpoint(stack.aws_endpoint, "running")
    return LocalEndpoint(f"http://127.0.0.1:{DEFAULT_AWS_PORT}", "default")


@dataclass(frozen=True)
class Api:
    """A client of the API a command talks to, and how its URL was found."""

    client: Client
    found: Found

    def failed(self, exc: Exception) -> int:
        """An API error as the API put it (exit 1); no answer at all, with where to look (exit 2)."""
        from imgpipe.client import ApiError

        if isinstance(exc, ApiError):
            print(f"{exc}", file=sys.stderr)
            return 1
        hint = {
            "given": "Is the API running there?",
            "running": "The `imgpipe serve` found running does not answer there; give its URL with --api-url.",
            "default": "No running `imgpipe serve` was found: start one, or give its API URL with --api-url.",
        }[self.found]
        print(f"cannot reach the API at {self.client.api_url}: {exc}\n{hint}", file=sys.stderr)
        return 2


def api(args: argparse.Namespace) -> Api:
    """--api-url if given, else the running `imgpipe serve`'s, else port 3000; with --api-key and
    --token as the API asks."""
    from imgpipe.client import Client

    url: str
    found: Found
    if args.api_url:
        url, found = args.api_url, "given"
    else:
        stack = _the_running_stack(lambda s: s.api_url, "--api-url")
        url, found = (stack.api_url, "running") if stack else (DEFAULT_API_URL, "default")
    return Api(Client(url, api_key=args.api_key, token=args.token), found)
