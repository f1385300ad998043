"""Contract test: schemathesis generates requests from the app's OpenAPI schema (a bounded number per
operation) and checks every response against it: documented status codes, content types and bodies, and
never a 5xx. No worker runs here, so accepted jobs simply wait."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from facetrust.service import ServiceSettings
from facetrust.service.app import create_app

KEY = "contract-test-key"


def run_examples(operation: schemathesis.APIOperation) -> None:
    """Up to 25 generated requests for ``operation``, each sent with the key (and, by the auth check,
    without it) and its response checked against the schema."""
    skip = []
    if operation.method.upper() == "POST":
        # a schema-valid upload may still be refused for its content (415: the bytes are no image or video;
        # 404: no such file under the root), which no JSON schema can say: the "valid data is accepted"
        # check is off for it; every other check (documented codes, content types, bodies) runs
        skip.append(positive_data_acceptance)
    if operation.path == "/readyz":
        skip.append(not_a_server_error)  # 503 NotReady is its documented answer here: no worker runs

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"X-API-Key": KEY}, excluded_checks=skip)

    check()


@pytest.mark.slow
def test_every_operation_answers_as_its_schema_says(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    app = create_app(ServiceSettings(data_dir=tmp_path / "data", allow_root=tmp_path / "root", warm_up=False,
                                     queue_size=10_000, api_keys=(KEY,)), start_workers=False)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 7
        for operation in operations:
            run_examples(operation)
    finally:
        app.state.service.close()


def test_the_schema_documents_every_route_and_error(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(data_dir=tmp_path / "open", warm_up=False), start_workers=False)
    keyed = create_app(ServiceSettings(data_dir=tmp_path / "keyed", warm_up=False, api_keys=(KEY,)),
                       start_workers=False)
    try:
        paths, keyed_paths = app.openapi()["paths"], keyed.openapi()["paths"]
    finally:
        app.state.service.close()
        keyed.state.service.close()
    # security is documented only when the server asks for a key
    assert "security" not in paths["/v1/detectors"]["get"] and "401" not in paths["/v1/detectors"]["get"]["responses"]
    assert keyed_paths["/v1/detectors"]["get"]["security"] and "401" in keyed_paths["/v1/analyses"]["post"]["responses"]
    assert "security" not in keyed_paths["/healthz"]["get"]
    assert set(paths) == {"/v1/analyses", "/v1/analyses/{analysis_id}", "/v1/analyses/{analysis_id}/report",
                          "/v1/detectors", "/healthz", "/readyz"}
    post = paths["/v1/analyses"]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"202", "400", "403", "404", "413", "415", "422", "429"} <= set(post["responses"])
    assert [p["name"] for p in post["parameters"]] == ["frames", "detector", "threshold"]
    assert "409" in paths["/v1/analyses/{analysis_id}/report"]["get"]["responses"]
