import json
from pathlib import Path

import pytest

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture
def event():
    return load_event


# Each test directory is one tier (pyproject.toml registers the markers; the Makefile runs them).
TIERS = {"unit": "unit", "image": "unit", "local": "local", "infra": "infra", "browser": "browser"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    for item in items:
        tier = TIERS.get(item.path.relative_to(tests_dir).parts[0])
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one of {sorted(set(TIERS))}/ (a tier)")
        item.add_marker(tier)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and a region that reach no account, and no endpoint URL: mock_aws answers boto3."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
