"""`deskroute connectors check` shows what a helpdesk answered only as short, literal excerpts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from router.cli import app
from tests.connectors.fake_rt import ROOT, FakeRT

runner = CliRunner()


@pytest.fixture
def rt_config(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (cli_env / "deskroute.toml").write_text(
        f'[connectors.rt]\ntype = "rt"\nbase_url = "{ROOT}"\ntimezone = "UTC"\nmax_response_bytes = 20000\n'
        'username_env = "DESK_TEST_USER"\npassword_env = "DESK_TEST_PASSWORD"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("DESK_TEST_USER", "deskroute")
    monkeypatch.setenv("DESK_TEST_PASSWORD", "pw-not-shown-7")
    return cli_env


def check(answer: httpx.Response) -> tuple[int, str]:
    with respx.mock:
        respx.get(f"{ROOT}/REST/2.0/rt").mock(return_value=answer)
        respx.route(host="rt.example.com").mock(side_effect=FakeRT())
        result = runner.invoke(app, ["connectors", "check", "rt"], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output and "pw-not-shown-7" not in result.output
    return result.exit_code, result.output


def test_a_long_version_string_is_shown_as_an_excerpt(rt_config: Path) -> None:
    _, output = check(httpx.Response(200, json={"Version": "5.0.3 [bold]" + "x" * 15_000}))
    line = next(line for line in output.splitlines() if "reachable and credentials" in line)
    assert line.startswith("ok   reachable and credentials: RT 5.0.3 [bold]xxx")  # literal, not markup
    assert "…" in line and len(output) < 3000


def test_an_answer_over_max_response_bytes_fails_the_check_clearly(rt_config: Path) -> None:
    code, output = check(httpx.Response(200, json={"Version": "5.0.3", "padding": "x" * 30_000}))
    text = " ".join(output.split())
    assert code == 1 and "FAIL reachable and credentials" in text
    assert "GET /REST/2.0/rt: the answer announces" in text and "max_response_bytes (20000 bytes)" in text
    assert "temporary" not in text


def test_a_redirect_says_where_to_without_its_credentials(rt_config: Path) -> None:
    code, output = check(
        httpx.Response(302, headers={"Location": "https://admin:s3cr3t@sso.example.com/login?ticket=abc"})
    )
    text = " ".join(output.split())
    assert code == 1 and "FAIL reachable and credentials" in text
    assert "redirected (302) to https://admin:***@sso.example.com/login;" in text and "not JSON" not in text
    assert "s3cr3t" not in text and "ticket=abc" not in text
