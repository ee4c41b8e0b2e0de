"""No command prints a credential, whatever form the URL or the configuration gives it in."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli.helpdesk_server import helpdesk_server
from tests.cli.hostile import build, check_output, invoke
from tests.cli.test_every_command import ARGUMENTS

# Every secret is made of pieces that are each unique, so a half-masked secret ("S3cr" shown, "@t" hidden) is
# caught as surely as a whole one.
DB_FORMS = {
    # A password with "@" and ":" written as is (SQLAlchemy cannot read it: the message must still not show it).
    "userinfo": "postgresql://dbuser:AAdb1@BBdb1:CCdb1@127.0.0.1:1/deskroute",
    "percent-encoded": f"postgresql://dbuser:{quote('DDdb2@EEdb2:FFdb2', safe='')}@127.0.0.1:1/deskroute",
    "query": "postgresql://127.0.0.1:1/deskroute?user=dbuser&password=GGdb3&sslpassword=HHdb3",
}
ENV_SECRETS = {"RT_TOKEN": "NNenv5-token", "RT_USER": "rtuser", "RT_PASSWORD": "OOenv6@:x%2Fy"}
PIECES = [
    *(f"{a}{a}db{n}" for n, letters in ((1, "ABC"), (2, "DEF"), (3, "GH")) for a in letters),
    *("IIrt4", "JJrt4", "KKrt4", "LLrt4", "MMrt4", "NNenv5", "OOenv6", "PPvendor7", "QQvendor8", "RRtok9"),
    *("SSredirect1", "TTredirect2"),
]


def _config(root: Path, server: str) -> Path:
    """Connectors whose URLs carry credentials in every form, plus the workspace's file helpdesk."""
    port_url = server.removeprefix("http://")
    config = root / "secrets.toml"
    config.write_text(
        (root / "deskroute.toml").read_text(encoding="utf-8") + "[connectors.rt]\n"
        'type = "rt"\n'
        f'base_url = "http://rtuser:IIrt4@JJrt4:KKrt4@{port_url}/rt?token=LLrt4&access_token=MMrt4"\n'
        'token_env = "RT_TOKEN"\n'
        "[connectors.rt2]\n"
        'type = "rt"\n'
        f'base_url = "{server}/"\n'
        'username_env = "RT_USER"\npassword_env = "RT_PASSWORD"\n'
        "[connectors.rt3]\n"
        'type = "rt"\n'
        f'base_url = "http://RRtok9@{port_url}/moved"\n'
        'token_env = "RT_TOKEN"\n',
        encoding="utf-8",
    )
    return config


EXTRA = {
    "connectors check": [["rt"], ["rt2"], ["rt3"]],
    "sync": [["rt"], ["rt3"]],
    "run": [["--once", "--connector", "rt2"]],
}
# Commands that read neither the configuration nor the store: one run covers them, whatever the database URL.
NO_CONFIGURATION = {
    "bench policy",
    "eval churn",
    "eval classify",
    "policy explain",
    "policy test",
    "policy validate",
    "import customers",
    "import events",
}


def _leaks(output: str) -> list[str]:
    return [piece for piece in PIECES if piece in output]


@pytest.mark.parametrize("form", ["sqlite", *DB_FORMS])
def test_no_command_prints_a_credential(form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = build(tmp_path)
    with helpdesk_server() as server:
        env = {**env, **ENV_SECRETS, "DESKROUTE_CONFIG": str(_config(tmp_path, server))}
        if form != "sqlite":
            env["DESKROUTE_DATABASE_URL"] = DB_FORMS[form]
        shown = invoke(["config", "show"], env)
        assert shown.exit_code == 0, shown.output
        data = json.loads(shown.stdout)
        assert "***" in data["connectors"]["rt"]["base_url"] and "127.0.0.1" in data["connectors"]["rt"]["base_url"]
        assert data["connectors"]["rt"]["token_env"] == "RT_TOKEN (set)"
        for path, argument_sets in ARGUMENTS.items():
            if form != "sqlite" and path in NO_CONFIGURATION:
                continue
            for args in [*argument_sets, *EXTRA.get(path, [])]:
                what = f"deskroute {path} {' '.join(args)} ({form})"
                result = invoke([*path.split(), *args], env)
                check_output(result, what)
                assert not _leaks(result.output), f"{what}: shows {_leaks(result.output)}\n{result.output[-3000:]}"
