"""Routing policies: the language support leads write, its validation, and a pure ``decide()``.

Public contract: :class:`Signals` (the policy's input from the models) and :class:`Decision` (its output:
actions, the trace of rules, the policy version); :func:`load_policy` / :func:`parse_policy` build a
:class:`RoutingPolicy` or raise :class:`PolicyError` with located issues; :func:`decide` runs it.
This package does no I/O outside the loader, has no clock of its own and imports only ``connectors``.
"""

from policies.evaluator import decide, default_scope
from policies.loader import load_policy, parse_policy
from policies.moments import MomentError, moment_of_deciding
from policies.outreach import OutreachRecord
from policies.policy_errors import PolicyError, PolicyIssue
from policies.routing_policy import RoutingPolicy, Rule
from policies.testing import (
    PolicyTestCase,
    PolicyTestResult,
    PolicyWithTests,
    check_expectations,
    load_tested_policy,
    parse_tested_policy,
    run_policy_tests,
    tests_path_for,
)
from policies.ticket_signals import Decision, LabelScore, Neighbour, RuleTrace, Signals

__all__ = [
    "Decision",
    "LabelScore",
    "MomentError",
    "Neighbour",
    "OutreachRecord",
    "PolicyError",
    "PolicyIssue",
    "PolicyTestCase",
    "PolicyTestResult",
    "PolicyWithTests",
    "RoutingPolicy",
    "Rule",
    "RuleTrace",
    "Signals",
    "check_expectations",
    "decide",
    "default_scope",
    "load_policy",
    "load_tested_policy",
    "moment_of_deciding",
    "parse_policy",
    "parse_tested_policy",
    "run_policy_tests",
    "tests_path_for",
]
