"""``/v1/policies``: list, upload (validated, its tests run), activate and roll back — the CLI's operations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from policies import PolicyError, parse_tested_policy, run_policy_tests
from router.service.api_auth import TOKEN_ERRORS, require
from router.service.api_models import (
    ActivationOut,
    ActivationResult,
    PolicyList,
    PolicyStored,
    PolicyUpload,
    PolicyVersionOut,
    Problem,
)
from router.store import policies as stored_policies
from router.store.api_tokens import ApiToken

router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=TOKEN_ERRORS)
UPLOAD_SOURCE = "policy uploaded over the API"
TESTS_SOURCE = "tests uploaded over the API"


def _activation(entry: stored_policies.Activation) -> ActivationOut:
    return ActivationOut(
        version=entry.version,
        previous_version=entry.previous_version,
        action=entry.action,
        activated_by=entry.activated_by,
        activated_at=entry.activated_at,
    )


def _actor(token: ApiToken) -> str:
    """Who the history records: the token's name, as the API knows the caller by nothing else."""
    return f"api:{token.name}"


@router.get("", response_model=PolicyList)
def list_policies(request: Request, token: object = Depends(require("read"))) -> PolicyList:
    """Every stored version, the activation log (who and when) and the active version."""
    with request.app.state.runtime.store.session() as session:
        found = stored_policies.history(session)
    return PolicyList(
        active=found.active,
        versions=[
            PolicyVersionOut(
                version=v.version,
                name=v.name,
                source=v.source,
                added_by=v.added_by,
                added_at=v.added_at,
                active=v.version == found.active,
            )
            for v in found.versions
        ],
        activations=[_activation(a) for a in found.activations],
    )


@router.post(
    "",
    status_code=201,
    response_model=PolicyStored,
    responses={400: {"model": Problem, "description": "the policy or its tests are invalid, or a test failed"}},
)
def upload_policy(body: PolicyUpload, request: Request, token: ApiToken = Depends(require("admin"))) -> PolicyStored:
    """Store a policy after validating it and running its tests; with ``activate`` it becomes the active one."""
    try:
        policy, cases = parse_tested_policy(
            body.text, UPLOAD_SOURCE, tests_text=body.tests, tests_source=TESTS_SOURCE if body.tests else None
        )
    except PolicyError as exc:
        problem = Problem(detail="the policy is invalid; nothing was stored", issues=[str(i) for i in exc.issues])
        return JSONResponse(problem.model_dump(), status_code=400)  # type: ignore[return-value]
    failed = [r for r in run_policy_tests(policy, cases) if not r.passed]
    if failed:
        issues = [f"test {r.case.name!r}: {'; '.join(r.failures)}" for r in failed]
        problem = Problem(detail=f"{len(failed)} of {len(cases)} test(s) failed; nothing was stored", issues=issues)
        return JSONResponse(problem.model_dump(), status_code=400)  # type: ignore[return-value]
    with request.app.state.runtime.store.session() as session:
        if body.activate:
            stored, _ = stored_policies.activate_text(session, body.text, UPLOAD_SOURCE, _actor(token))
        else:
            stored = stored_policies.store_policy(session, body.text, UPLOAD_SOURCE, _actor(token))
        session.commit()
    return PolicyStored(
        version=stored.version,
        name=stored.name,
        tests_run=len(cases),
        activated=body.activate,
        warnings=[str(w) for w in policy.warnings],
    )


@router.post("/{version}/activate", response_model=ActivationResult, responses={409: {"model": Problem}})
def activate_policy(version: str, request: Request, token: ApiToken = Depends(require("admin"))) -> ActivationResult:
    """Make a stored version (its id or a unique prefix) the active one; the next ticket is routed with it."""
    with request.app.state.runtime.store.session() as session:
        change = stored_policies.activate(session, version, _actor(token))
        session.commit()
        active = stored_policies.active_policy(session)
    assert active is not None
    return ActivationResult(
        active=active.version, changed=change is not None, activation=_activation(change) if change else None
    )


@router.post("/rollback", response_model=ActivationResult, responses={409: {"model": Problem}})
def rollback_policy(request: Request, token: ApiToken = Depends(require("admin"))) -> ActivationResult:
    """Re-activate the version active before the current one (a second rollback undoes the first)."""
    with request.app.state.runtime.store.session() as session:
        change = stored_policies.rollback(session, _actor(token))
        session.commit()
    return ActivationResult(active=change.version, changed=True, activation=_activation(change))
