"""Labelled customer tables: labels, categories, and clear errors for hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.behaviour import TableError, read_customer_table


def write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CSV = """id,plan,calls,minutes,Churn
a,basic,1,10.5,True
b,pro,4,,false
c,basic,0,12,yes
d,pro,NA,8,0
e,basic,2,9.5,1
"""


def test_labels_categories_and_missing_values(tmp_path: Path) -> None:
    table = read_customer_table(write(tmp_path, CSV), label="Churn", id_column="id")
    assert table.labels is not None and table.labels.tolist() == [1, 0, 1, 0, 1]
    assert table.columns == ["plan", "calls", "minutes"]
    assert table.kinds == {"plan": "categorical", "calls": "numeric", "minutes": "numeric"}
    assert table.rows[1] == {"plan": "pro", "calls": 4.0, "minutes": None}
    assert table.rows[3]["calls"] is None  # "NA" is missing, not junk
    assert table.ids == ["a", "b", "c", "d", "e"]
    assert table.lines == [2, 3, 4, 5, 6]


def test_jsonl_with_json_booleans(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"plan": "basic", "calls": 1, "churned": true}\n{"plan": "pro", "calls": 3, "churned": false}\n',
        "c.jsonl",
    )
    table = read_customer_table(path, label="churned", drop=["plan"])
    assert table.labels is not None and table.labels.tolist() == [1, 0]
    assert table.columns == ["calls"]


def test_junk_in_a_numeric_column_names_column_line_and_value(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n" for i in range(40))
    path = write(tmp_path, "id,calls,Churn\n" + rows + "40,lots,yes\n")
    with pytest.raises(TableError) as error:
        read_customer_table(path, label="Churn", id_column="id")
    message = str(error.value)
    assert f"{path}:42" in message and "'calls'" in message and "'lots'" in message


def test_one_class_label(tmp_path: Path) -> None:
    path = write(tmp_path, "calls,Churn\n1,no\n2,false\n3,0\n")
    with pytest.raises(TableError, match=r"one class only: all 3 rows are not churned"):
        read_customer_table(path, label="Churn")


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "id,calls,Churn\nx,1,no\ny,2,yes\nx,3,no\n")
    with pytest.raises(TableError, match=r"duplicates: 'x' on lines 2, 4"):
        read_customer_table(path, label="Churn", id_column="id")


def test_unreadable_label_and_unknown_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "calls,Churn\n1,no\n2,maybe\n")
    with pytest.raises(TableError, match=r":3: label 'Churn' is 'maybe'"):
        read_customer_table(path, label="Churn")
    with pytest.raises(TableError, match=r"no column 'churn' \(--label\); the columns are: calls, Churn"):
        read_customer_table(path, label="churn")
    with pytest.raises(TableError, match=r"no column 'nope' \(--drop\)"):
        read_customer_table(path, label="Churn", drop=["nope"])


def test_a_test_file_is_read_the_training_way(tmp_path: Path) -> None:
    train = read_customer_table(write(tmp_path, CSV), label="Churn", id_column="id")
    test = write(tmp_path, "id,plan,minutes,Churn\nz,gold,3,no\ny,basic,4,yes\n", "test.csv")
    with pytest.raises(TableError, match=r"lacks the training table's column\(s\) 'calls'"):
        read_customer_table(test, label="Churn", id_column="id", expected=train.kinds)
    junk = write(tmp_path, "id,plan,calls,minutes,Churn\nz,gold,many,3,no\ny,basic,1,4,yes\n", "junk.csv")
    with pytest.raises(TableError, match=r"junk.csv:2: column 'calls' is numeric but has 'many'"):
        read_customer_table(junk, label="Churn", id_column="id", expected=train.kinds)
