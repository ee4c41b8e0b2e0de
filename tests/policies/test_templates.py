"""Note templates run in a sandbox that cannot reach Python internals or spend unbounded time."""

from __future__ import annotations

import pytest

from policies.templates import NoteTemplate, TemplateProblem, TemplateRenderError

CONTEXT = {"ticket": {"subject": "Hi", "body": "x" * 20_000, "tags": ["a", "b"]}, "signals": {"churn_risk": 0.734}}
NO_RISK = {**CONTEXT, "signals": {"churn_risk": None}}


def test_a_template_renders_plain_data_with_filters() -> None:
    template = NoteTemplate("{{ ticket.subject }}: {{ signals.churn_risk | percent }} [{{ ticket.tags | join(', ') }}]")
    assert template.render(CONTEXT) == "Hi: 73% [a, b]"


def test_output_is_cut_at_the_length_limit() -> None:
    text = NoteTemplate("{% for c in ticket.body %}{{ ticket.body }}{% endfor %}", max_length=100).render(CONTEXT)
    assert len(text) == 100 and text.endswith("…")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ range(10) }}", "function calls"),
        ("{{ ticket.subject.upper() }}", "function calls"),
        ("{% for a in x %}{% for b in y %}{% endfor %}{% endfor %}", "nest one loop"),
        ("{% set x = 1 %}", "{% set %}"),
        ("{% macro m() %}{% endmacro %}", "macros"),
        ("{% include 'x' %}", "include"),
        ("{{ x | center(1000000) }}", "unknown filter 'center'"),
        ("{{ x | random }}", "unknown filter 'random'"),
        ("{% if %}", "template syntax error"),
        ("{{ ticket.subject * 100000 }}", "'*' takes numbers"),
        ("{{ 'ab' * 3 }}", "'*' takes numbers"),
        ("{{ (ticket.tags | list) * 3 }}", "'*' takes numbers"),
        ("{{ '%999999999d' % 1 }}", "'%' takes numbers"),
        ("{{ ticket.subject ** 2 }}", "takes numbers in templates"),
        ("{% for t in ticket.tags %}{{ t * 9 }}{% endfor %}", "'*' takes numbers"),
    ],
)
def test_dangerous_or_broken_templates_are_refused_at_load(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        NoteTemplate(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ signals.churn_risk * 100 }}", "only allowed between numbers"),  # churn_risk is None here
        ("{{ 2 ** 100000 }}", "limited to small numbers"),
        ("{{ ticket.__class__ }}", "unsafe"),
        ("{{ ticket.items }}", "unsafe"),
        ("{{ ticket.body | list | join(ticket.body) }}", "join would produce"),
        ("{{ ticket.nothing }}", "does not have"),
    ],
)
def test_dangerous_expressions_fail_when_rendering(source: str, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        NoteTemplate(source).render(NO_RISK)


def test_arithmetic_on_numbers_is_allowed() -> None:
    template = NoteTemplate("{{ (signals.churn_risk * 100) | round }} {{ ticket.tags | length * 2 }} {{ 7 // 2 }}")
    assert template.render(CONTEXT) == "73.0 4 3"
    assert (
        NoteTemplate("{{ ticket.custom_fields.n | int * 3 }}").render({"ticket": {"custom_fields": {"n": "4"}}}) == "12"
    )


def test_a_rendering_that_reads_too_much_data_fails_instead_of_running_on() -> None:
    # 20,000 turns, each reading the 20,000-character body: 400 million characters.
    template = NoteTemplate("{% for c in ticket.body %}{% if ticket.body | wordcount > 1 %}x{% endif %}{% endfor %}")
    with pytest.raises(TemplateRenderError, match="reads more than 1000000 characters"):
        template.render(CONTEXT)
    # Reading the body a few times is fine.
    assert NoteTemplate("{{ ticket.body | length }} {{ ticket.body | wordcount }}").render(CONTEXT) == "20000 1"


def test_a_key_named_like_a_dict_method_is_data() -> None:
    assert NoteTemplate("{{ d.items }}").render({"d": {"items": 3}}) == "3"
