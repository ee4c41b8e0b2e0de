"""Behaviour: the customer's side of a ticket.

- :func:`load_history` / :func:`load_histories`: a customer's records up to a time (``connectors.CustomerHistory``).
- :func:`behaviour_features`: the one feature function used in training and at prediction time.
- :func:`read_customer_table`: labelled customer tables (CSV/JSONL), validated, for churn models.
- :class:`FeatureSchema`: feature rows to a model's matrix; :func:`describe`: a feature's value in words.
- :func:`churn_metrics`: ROC-AUC, PR-AUC, Brier score and ECE.
"""

from router.behaviour.churn_metrics import churn_metrics
from router.behaviour.customer_features import FEATURE_NAMES, behaviour_features
from router.behaviour.history import load_histories, load_history
from router.behaviour.reasons import describe
from router.behaviour.schema import FeatureSchema, FeatureSpec, FeatureValue, baseline_preprocessor
from router.behaviour.table import CustomerTable, TableError, parse_label, read_customer_table

__all__ = [
    "FEATURE_NAMES",
    "CustomerTable",
    "FeatureSchema",
    "FeatureSpec",
    "FeatureValue",
    "TableError",
    "baseline_preprocessor",
    "behaviour_features",
    "churn_metrics",
    "describe",
    "load_histories",
    "load_history",
    "parse_label",
    "read_customer_table",
]
