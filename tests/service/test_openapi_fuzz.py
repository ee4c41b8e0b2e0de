"""schemathesis against the running ``deskroute serve``: every operation of /openapi.json, a bounded number of
generated requests each, with one token per scope, on a throw-away database: no 5xx, every response as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.service.service_workspace import Served, make_workspace

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 12
# Not checked: that every schema-valid body is accepted. The canonical records validate more than JSON Schema can
# say (a plausible time, no control characters in an id), and refuse the rest with a 422 naming the field, which
# the schema documents; every other check (no 5xx, statuses, content types, bodies, headers) applies.


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_every_operation_answers_as_its_schema_says(scope: str, sqlite_url: str, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, sqlite_url)
    # With its jobs, so /readyz answers ready (200) and a 503 from it would be a failure like any other 5xx.
    served = Served(workspace)
    headers = {"Authorization": f"Bearer {workspace.tokens[scope]}"}
    try:
        served.wait_ready()
        schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        failures: list[str] = []
        for operation in operations:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=served.url, headers=headers)
                assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
                case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])

            try:
                check()
            except Exception as exc:  # collect every operation's failure, then report them together
                failures.append(f"{operation.label}: {str(exc)[:1500]}")
        assert not failures, "\n\n".join(failures) + "\n" + served.log()[-3000:]
    finally:
        served.stop()
