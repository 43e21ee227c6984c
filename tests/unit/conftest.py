"""What several unit tests share: boto3 pointed at moto's in-process AWS, and the image table there."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from imgpipe.adapters import DynamoImages


@pytest.fixture
def images_table(aws_credentials: None) -> Iterator[DynamoImages]:
    """An empty image table in moto, through the adapter the functions use."""
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="images",
            AttributeDefinitions=[{"AttributeName": "imageId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "imageId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoImages("images")
