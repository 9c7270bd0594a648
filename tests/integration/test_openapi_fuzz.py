"""Requests generated from the live /openapi.json, valid and invalid, never get a 5xx.

Writes carry the stack's token, so generated bodies reach the handlers, not only the auth check.
"""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from devstack.config import StackConfig


@pytest.fixture(scope="session")
def live_schema(stack: StackConfig) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    # Valid and invalid inputs alike: bad input must be a 4xx, never a 5xx.
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    )
    return loaded


schema = schemathesis.pytest.from_fixture("live_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_get_a_server_error(
    case: schemathesis.Case[Any], auth: dict[str, str]
) -> None:
    response = case.call(headers=auth, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
