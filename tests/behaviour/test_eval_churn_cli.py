"""`deskroute eval churn` and churn training as a user runs them, including bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from evals.synthetic import SyntheticWorld
from policies.ticket_signals import Signals
from router.behaviour import FEATURE_NAMES, load_history
from router.behaviour.churn_model import ChurnModel, assess_customer, churn_signals
from router.cli import app
from router.cli.churn_cmds import train_churn
from router.store import Store

runner = CliRunner()


def table_csv(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A telecom-like customer table: churn follows service calls and the plan; a State column of many values."""
    rng = np.random.default_rng(seed)
    states = [f"S{k}" for k in range(30)]
    lines = ["customer,State,Plan,Service calls,Minutes,Churn"]
    for i in range(n):
        calls = int(rng.poisson(1.5))
        plan = "Yes" if rng.random() < 0.2 else "No"
        logit = -4.0 + 1.5 * calls + (2.0 if plan == "Yes" else 0.0)
        churn = rng.random() < 1 / (1 + np.exp(-logit))
        lines.append(
            f"c{i},{rng.choice(states)},{plan},{calls},{rng.normal(180, 40):.1f},{'True' if churn else 'False'}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cross_validation_prints_a_table_and_writes_the_json(tmp_path: Path) -> None:
    train = table_csv(tmp_path / "train.csv")
    out = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "eval",
            "churn",
            "--train",
            str(train),
            "--cv",
            "3",
            "--label",
            "Churn",
            "--id",
            "customer",
            "--drop",
            "Minutes",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ROC-AUC" in result.output and "logistic regression" in result.output
    report = json.loads(out.read_text())
    for key in ("roc_auc", "pr_auc", "brier", "ece", "n_train", "n_test", "top_reasons", "baselines"):
        assert key in report
    assert report["n_train"] == report["n_test"] == 300
    assert report["features"] == ["State", "Plan", "Service calls"]
    assert report["categorical"] == ["State", "Plan"]
    assert set(report["baselines"]["logistic_regression"]) >= {"roc_auc", "pr_auc", "brier", "ece"}
    assert report["roc_auc"] > 0.75
    assert report["top_reasons"][0]["feature"] in {"Service calls", "Plan"}
    assert report["top_reasons"][0]["example"].split(":")[0] in {"Service calls", "Plan"}
    assert report["riskiest"][0]["id"].startswith("c")


def test_a_test_file_run(tmp_path: Path) -> None:
    train = table_csv(tmp_path / "train.csv", seed=1)
    test = table_csv(tmp_path / "test.csv", n=120, seed=2)
    out = tmp_path / "r.json"
    result = runner.invoke(
        app, ["eval", "churn", "--train", str(train), "--test", str(test), "--label", "Churn", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert (report["n_train"], report["n_test"]) == (300, 120)
    assert report["mode"] == "test file"


def bad(args: list[str]) -> str:
    result = runner.invoke(app, ["eval", "churn", *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())  # rich wraps long lines


def test_bad_input_gets_one_clear_line(tmp_path: Path) -> None:
    train = table_csv(tmp_path / "train.csv", n=60)
    lines = train.read_text().splitlines()
    one_class = tmp_path / "one.csv"
    one_class.write_text("\n".join([lines[0]] + [ln.rsplit(",", 1)[0] + ",no" for ln in lines[1:]]) + "\n")
    assert "one class only" in bad(["--train", str(one_class), "--cv", "3", "--label", "Churn"])

    dupes = tmp_path / "dupes.csv"
    dupes.write_text("\n".join([*lines, lines[5]]) + "\n")
    message = bad(["--train", str(dupes), "--cv", "3", "--label", "Churn", "--id", "customer"])
    assert "duplicates: 'c4' on lines 6, 62" in message

    junk = tmp_path / "junk.csv"
    broken = lines[10].split(",")
    broken[3] = "several"
    junk.write_text("\n".join([*lines[:10], ",".join(broken), *lines[11:]]) + "\n")
    message = bad(["--train", str(junk), "--cv", "3", "--label", "Churn"])
    assert "junk.csv:11" in message and "'Service calls'" in message and "'several'" in message

    assert "exactly one of --test FILE or --cv K" in bad(["--train", str(train), "--label", "Churn"])
    assert "no column 'churned'" in bad(["--train", str(train), "--cv", "3", "--label", "churned"])
    assert "no such file" in bad(["--train", str(tmp_path / "missing.csv"), "--cv", "3", "--label", "Churn"])


def test_train_churn_from_a_table_saves_a_loadable_model(cli_env: Path) -> None:
    train = table_csv(cli_env / "train.csv", n=200)
    meta = train_churn(train, label="Churn", id_column="customer", cv=3)
    folder = cli_env / "data" / "models" / "churn"
    model, saved = ChurnModel.load(folder)
    assert saved["version"] == meta["version"] and saved["cv_metrics"]["folds"] == 3
    assert saved["training_data"]["file"] == str(train)
    assert model.risk([{"State": "S1", "Plan": "Yes", "Service calls": 5.0, "Minutes": 100.0}])[0] > 0.5


def test_train_churn_from_the_store_uses_cancellations_as_the_label(cli_env: Path, small_world: SyntheticWorld) -> None:
    store = Store(f"sqlite:///{cli_env / 'deskroute.db'}")
    with store.session() as session:
        small_world.store(session)
    meta = train_churn(from_store=True, source=small_world.source, cv=0, out=cli_env / "model")
    assert meta["training_data"]["horizon_days"] == 30 and meta["cv_metrics"] is None
    model, _ = ChurnModel.load(cli_env / "model")
    assert model.schema_.names == list(FEATURE_NAMES)
    ticket = next(t for t in small_world.tickets if t.requester in small_world.churned_at)
    now = ticket.created_at + timedelta(hours=1)
    with store.session() as session:
        fields = churn_signals(session, model, meta["version"], ticket, None, now)
        history = load_history(session, small_world.source, ticket.requester or "", now)
    signals = Signals(**fields)
    assert signals.model_versions == {"churn": meta["version"]}
    assert signals.churn_risk == assess_customer(model, history, now).risk
    assert signals.features["tickets_total"] >= 1 and all(signals.churn_reasons)
    store.dispose()


def test_train_churn_refuses_unclear_requests(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for call, expected in (
        (lambda: train_churn(), "give a labelled customer table"),
        (lambda: train_churn(cli_env / "x.csv"), "--label COL is required"),
        (lambda: train_churn(from_store=True, source="nothing-here", cv=0), "no customers in the store"),
    ):
        with pytest.raises(typer.Exit) as stopped:
            call()
        assert stopped.value.exit_code == 1
        assert expected in " ".join(capsys.readouterr().err.split())


@pytest.mark.slow
def test_telecom_churn_meets_its_targets(datasets_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "telecom.json"
    data = datasets_dir / "churn-telecom" / "churn-bigml-80.csv"
    result = runner.invoke(
        app, ["eval", "churn", "--train", str(data), "--cv", "5", "--label", "Churn", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["roc_auc"] >= 0.91
    assert report["brier"] < report["baselines"]["logistic_regression"]["brier"]
    assert report["ece"] < 0.03
    assert "Customer service calls" in {r["feature"] for r in report["top_reasons"]}
