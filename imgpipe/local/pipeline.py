"""The whole pipeline on one machine: an embedded AWS emulator plus the local API Gateway.

    with LocalPipeline() as stack:          # API on 127.0.0.1:3000, AWS on 127.0.0.1:3001
        print(stack.api_url, stack.aws_endpoint)

The emulator is moto in server mode with its ASL interpreter switched on, so the state machine
file runs for real (Retry, Catch, intrinsics, DynamoDB integrations); our Lambda handlers answer
its Invoke calls in this process.  Use port 0 for any free port.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from imgpipe import config, topology
from imgpipe.local import moto_patches, s3_access
from imgpipe.local.activity import ExecutionLog, log_requests
from imgpipe.local.apigw import api_gateway_app
from imgpipe.local.bridge import EventBridgeTarget
from imgpipe.local.cognito import LocalUserPool, TokenVerifier
from imgpipe.local.lambdas import LambdaService, LocalFunction
from imgpipe.local.lifecycle import LocalLifecycle
from imgpipe.local.provision import LocalNames, provision, provision_user_pool
from imgpipe.local.renditions import with_renditions
from imgpipe.local.streams import TableStreamReader
from imgpipe.local.web import with_web_page
from imgpipe.paths import checkout_root

EMULATOR_HOST = "127.0.0.1"
log = logging.getLogger("imgpipe.local")
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test"}


def _starting(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The API server's application until the stack behind it is ready (it is not served before)."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _serve(server: BaseWSGIServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
    thread.start()
    return thread


class LocalPipeline:
    def __init__(
        self,
        api_port: int = 3000,
        aws_port: int = 3001,
        host: str = "127.0.0.1",
        settings: config.PipelineSettings | None = None,
        api_key: str | None = None,
        names: LocalNames | None = None,
        log_level: str = "WARNING",
        workers: int | None = None,
        api_workers: int | None = None,
        code_root: Path | None = None,
    ):
        self.host = host
        self.settings = settings or config.PipelineSettings()
        self.api_key = api_key
        self.names = names or LocalNames()
        self.log_level = log_level
        # Each function gets one worker process per core by default, as Lambda runs concurrent
        # invocations in separate sandboxes per function; 0 runs every handler in this process
        # (debuggers, profilers).
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.api_workers = api_workers  # kept warm for the API (it scales out beyond); None: the default
        self._requested_ports = (api_port, aws_port)
        self._servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
        self._saved_env: dict[str, str | None] = {}
        self.lambdas = LambdaService(
            [
                LocalFunction(step, self.names.function_name(step), self.names.function_arn(step))
                for step in topology.STEPS
            ],
            # The handlers are imported from the checkout (functions/), the code the Lambda assets
            # are built from; outside a checkout this fails here, with one clear message.
            code_root=code_root or checkout_root(),
        )
        self.target: EventBridgeTarget | None = None
        self.executions: ExecutionLog | None = None
        self.lifecycle: LocalLifecycle | None = None
        self.stream: TableStreamReader | None = None  # the image events' source (imgpipe.local.streams)
        self.session: Any = None
        self.user_pool: LocalUserPool | None = None  # auth "jwt": the pool `imgpipe token` signs in to
        self._api_server: BaseWSGIServer | None = None

    # ---- lifecycle --------------------------------------------------------------------------------
    def start(self) -> LocalPipeline:
        try:
            return self._start()
        except BaseException:
            self.stop()  # whatever did start (servers, workers, environment) is undone
            raise

    def _start(self) -> LocalPipeline:
        from moto.core.config import default_user_config
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        default_user_config["stepfunctions"]["execute_state_machine"] = True
        moto_patches.tune_moto()
        api_port, aws_port = self._requested_ports
        # The emulator is unauthenticated (it even has a reset endpoint) and moto's interpreter calls
        # it at localhost: it is bound to loopback whatever --host says for the API.
        aws_server = make_server(
            EMULATOR_HOST,
            aws_port,
            s3_access.guard(
                self.lambdas.wsgi(DomainDispatcherApplication(create_backend_app)),
                (self.names.input_bucket, self.names.output_bucket),
                LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            ),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._servers.append((aws_server, _serve(aws_server, "aws-emulator")))
        # Bound now and served last: the functions learn its URL (the base of rendition URLs with
        # delivery "cdn") from their environment before they start.
        self._api_server = make_server(self.host, api_port, _starting, threaded=True)
        self._configure_environment(aws_server.server_port)

        import boto3

        self.session = boto3.Session(region_name=self.names.region)
        self.executions = ExecutionLog(self.session.client("stepfunctions"))
        self.executions.start()
        self.target = EventBridgeTarget(
            self.session,
            provision(self.session, self.names, self.settings.cors_allowed_origins),
            self.names.state_machine_arn,
        )
        self.target.start()
        # What S3 lifecycle rules and DynamoDB TTL delete on AWS, deleted here too (memory stays bounded).
        self.lifecycle = LocalLifecycle(self.session, self.names.output_bucket, self.names.table, self.aws_endpoint)
        self.lifecycle.start()
        self.stream = self._read_table_stream()
        # The ASL interpreter builds a boto3 client per Task; load the service models once now so
        # the first image does not pay for it.
        threading.Thread(target=lambda: [boto3.client(s) for s in ("dynamodb", "lambda")], daemon=True).start()

        authorizer = None
        if self.settings.auth == "jwt":  # API Gateway's Cognito user pool authorizer, locally
            self.user_pool = provision_user_pool(self.session, self.names)
            authorizer = TokenVerifier(self.user_pool, self.user_pool.jwks_url(self.aws_endpoint)).claims
        api = api_gateway_app(
            self.lambdas,
            self.names.function_name(topology.API),
            self.api_key,
            authorizer,
            cors_allowed_origins=self.settings.cors_allowed_origins,
        )
        if self.settings.delivery == "cdn":  # what CloudFront serves on AWS, on the API port here
            api = with_renditions(api, self.client("s3"), self.names.output_bucket)
        api = log_requests(api)
        # The upload page (GET / and /web/*) is the local server's own, in front of the emulated API.
        self._api_server.app = with_web_page(api)
        self._servers.append((self._api_server, _serve(self._api_server, "api-gateway")))
        return self

    def _read_table_stream(self) -> TableStreamReader:
        """The image events: the table's changes -> the events function -> the bus the settings
        name (created here if it is not the default one; on AWS it must exist)."""
        if self.settings.event_bus_name != config.DEFAULT_EVENT_BUS:
            self.client("events").create_event_bus(Name=self.settings.event_bus_name)
        arn = self.client("dynamodb").describe_table(TableName=self.names.table)["Table"]["LatestStreamArn"]
        reader = TableStreamReader(self.lambdas, self.names.function_name(topology.EVENTS), self.names.table, arn)
        reader.start()
        return reader

    def _configure_environment(self, aws_port: int) -> None:
        """The same variables a deployed function gets, pointed at the emulator."""
        from imgpipe.runtime import default_runtime

        endpoint = f"http://{EMULATOR_HOST}:{aws_port}"
        env = {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.names.region,
            "AWS_REGION": self.names.region,
            "AWS_ENDPOINT_URL": endpoint,
            "MOTO_PORT": str(aws_port),  # where moto's ASL interpreter sends its Task calls
            "MOTO_ALLOW_NONEXISTENT_REGION": "true",
            # moto spills objects over ~5 MB to temporary files; a 1600 px raw intermediate is
            # 5.8 MB, and keeping it in memory saves a disk round trip per hand-off.
            "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(64 << 20),
            **self.names.resources.to_env(),
            config.ENV_SETTINGS: self.settings.to_json(),
            config.ENV_RENDITIONS_BASE_URL: self.renditions_base_url,
            "POWERTOOLS_SERVICE_NAME": f"{config.PROJECT}-local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            "POWERTOOLS_DEV": "false",
        }
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        if self.workers:
            self.lambdas.start_workers(self.workers, env, self.api_workers)
        # Handlers build their clients once per "container"; a new stack is a new container.
        default_runtime.cache_clear()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every failed execution; the history already records it, with more.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

    def stop(self) -> None:
        # The background loops stop together (the target's long poll alone takes up to 1 s), and
        # before the workers: what they are delivering still finds a function to run it.
        loops = [part for part in (self.target, self.executions, self.lifecycle, self.stream) if part]
        self.target = self.executions = self.lifecycle = self.stream = None
        stopping = [threading.Thread(target=part.stop, daemon=True) for part in loops]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self.lambdas.stop_workers()
        if self._servers:
            # moto's backends are process-wide: leave nothing behind for the next stack.
            import urllib.request

            try:
                request = urllib.request.Request(f"{self.aws_endpoint}/moto-api/reset", method="POST")
                urllib.request.urlopen(request, timeout=10).close()
            except OSError:
                log.warning("could not reset the emulator's state", exc_info=True)
        served = [server for server, _ in self._servers]
        for server, thread in reversed(self._servers):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._servers.clear()
        if self._api_server is not None and self._api_server not in served:
            self._api_server.server_close()  # bound, but the start failed before serving it
        self._api_server = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        from imgpipe.runtime import default_runtime

        default_runtime.cache_clear()

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- where things are -----------------------------------------------------------------------------
    @property
    def api_port(self) -> int:
        assert self._api_server is not None, "the stack is not started"
        return self._api_server.server_port

    @property
    def aws_port(self) -> int:
        return self._servers[0][0].server_port

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def renditions_base_url(self) -> str:
        """Where delivery "cdn" serves renditions locally: this API, at an address clients can reach."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.api_port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{EMULATOR_HOST}:{self.aws_port}"

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.aws_endpoint)
