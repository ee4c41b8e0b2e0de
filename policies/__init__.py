"""Routing policies: the language support leads write, its validation, and a pure ``decide()``.

Public contract: :class:`Signals` (the policy's input from the models) and :class:`Decision` (its output:
actions, the trace of rules, the policy version). This package does no I/O, has no clock of its own and
imports only ``connectors``.
"""

from policies.signals import Decision, LabelScore, Neighbour, RuleTrace, Signals

__all__ = ["Decision", "LabelScore", "Neighbour", "RuleTrace", "Signals"]
