"""`Idempotency-Key` on POST /test-workflow: a retried start returns the run the first
attempt started, running or finished, instead of starting another."""

import uuid

import httpx

from tests.waiting import wait_for


def test_a_retried_start_returns_the_same_run(api: httpx.Client) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": key}
    first = api.post("/test-workflow", json={"name": "Once"}, headers=headers)
    assert first.status_code == 202, first.text
    retried = api.post("/test-workflow", json={"name": "Once"}, headers=headers)
    assert retried.json()["workflow_id"] == first.json()["workflow_id"]
    assert retried.json()["run_id"] == first.json()["run_id"]

    workflow_id = first.json()["workflow_id"]
    wait_for(lambda: api.get(f"/test-workflow/{workflow_id}").json()["status"] == "COMPLETED", 30)
    after_completion = api.post("/test-workflow?wait=true", json={"name": "Once"}, headers=headers)
    assert after_completion.json()["run_id"] == first.json()["run_id"]
    assert after_completion.json()["status"] == "COMPLETED"
    assert after_completion.json()["result"] == "Hello, Once!"

    other = api.post(
        "/test-workflow", json={"name": "Once"}, headers={"Idempotency-Key": "x" + key}
    )
    assert other.json()["workflow_id"] != workflow_id


def test_an_invalid_idempotency_key_is_a_422_naming_the_header(api: httpx.Client) -> None:
    response = api.post("/test-workflow", json={}, headers={"Idempotency-Key": "bad key!"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
