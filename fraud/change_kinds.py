"""Four eyes for the fraud strategy (cardsystem/change_requests.py): promoting a
configuration version (a rollback too) and activating a fraud model are requests that a
second person approves; approval applies them through the same services the operators'
commands call (fraud.versions.config_version_promote, fraud.services.model_activate),
as the approver.

Deactivating a model is not held: it is the kill switch back to the rules alone, immediate
and audited (fraud.services.model_deactivate).
"""

from django.db import transaction

from cardsystem.audit import Actor
from cardsystem.change_requests import ChangeKind, change_request_create, register
from cardsystem.exceptions import ConflictError
from cardsystem.models import ChangeRequest
from fraud.models import FraudConfigVersion, FraudModel
from fraud.services import model_activate
from fraud.versions import REASON_MAX, config_version_promote, live_version

CONFIG_PROMOTE = "config_promote"
MODEL_ACTIVATE = "model_activate"
PROMOTE_PERMISSION = "fraud.promote_fraudconfigversion"
ACTIVATE_PERMISSION = "fraud.activate_fraudmodel"
State = FraudConfigVersion.State


def pending_request(kind: str, target) -> ChangeRequest | None:
    """The request of this kind still waiting for a second person about `target`."""
    return ChangeRequest.objects.filter(
        kind=kind,
        status=ChangeRequest.Status.PENDING,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
    ).first()


def _refuse_a_second(kind: str, target, what: str, field: str) -> None:
    waiting = pending_request(kind, target)
    if waiting is not None:
        raise ConflictError(
            f"{what} was already requested by {waiting.requested_by.get_username()} and waits for a "
            "second person: approve, reject or withdraw that request first.",
            field=field,
        )


def _live_number() -> int | None:
    live = live_version()
    return live.number if live else None


# --- Promotion (and rollback) -------------------------------------------------------------------


def config_promote_request(*, version: FraudConfigVersion, actor: Actor, reason: str) -> ChangeRequest:
    """Ask a second person to promote `version` (an earlier one: a rollback). Nothing
    changes for decisions until approved. ConflictError (nothing written) for the live
    version or when a request to promote it is already pending; ValidationError without
    a reason."""
    with transaction.atomic():
        # Locked: of two requests for the same version at once, the second sees the first.
        version = FraudConfigVersion.objects.select_for_update().get(pk=version.pk)
        if version.state == State.LIVE:
            raise ConflictError(f"Version {version.number} is already live.", field="version")
        _refuse_a_second(CONFIG_PROMOTE, version, f"Promoting version {version.number}", "version")
        live = _live_number()
        verb = "Roll back to" if version.state == State.RETIRED else "Promote"
        return change_request_create(
            kind=CONFIG_PROMOTE,
            actor=actor,
            summary=f"{verb} fraud configuration version {version.number}"
            + (f" (replacing live version {live})" if live else ""),
            reason=reason,
            params={"version": version.number, "live": live},
            target=version,
        )


def _apply_config_promote(request: ChangeRequest, actor: Actor) -> dict:
    version = FraudConfigVersion.objects.filter(number=request.params["version"]).first()
    if version is None:
        raise ConflictError("The version to promote no longer exists.", field="version")
    live = _live_number()
    if version.state != State.LIVE and live != request.params.get("live"):
        # The approver would approve a change from another live version than the requester saw.
        raise ConflictError(
            f"Version {live} went live after this request (it asked to replace version "
            f"{request.params.get('live')}): reject it and request again against the live version.",
            field="version",
        )
    requester = request.requested_by.get_username()
    promoted = config_version_promote(
        version=version, actor=actor, reason=request.reason, requested_by=requester
    )
    return {"version": promoted.number, "replaced": live}


# --- Model activation ---------------------------------------------------------------------------


def model_activate_request(*, model: FraudModel, actor: Actor, reason: str) -> ChangeRequest:
    """Ask a second person to make `model` the one that scores. ConflictError (nothing
    written) when the live version already scores with it or a request to activate it is
    pending; ValidationError without a reason."""
    with transaction.atomic():
        model = FraudModel.objects.select_for_update().defer("artifact").get(pk=model.pk)
        live = live_version()
        if live is not None and live.model_id == model.pk:
            raise ConflictError(f"Fraud model v{model.version} is already active.", field="model")
        _refuse_a_second(MODEL_ACTIVATE, model, f"Activating fraud model v{model.version}", "model")
        return change_request_create(
            kind=MODEL_ACTIVATE,
            actor=actor,
            summary=f"Activate fraud model v{model.version} (it then scores every decision)",
            reason=reason,
            params={"model": model.version},
            target=model,
        )


def _apply_model_activate(request: ChangeRequest, actor: Actor) -> dict:
    model = FraudModel.objects.defer("artifact").filter(version=request.params["model"]).first()
    if model is None:
        raise ConflictError("The model to activate no longer exists.", field="model")
    live = live_version()
    if live is not None and live.model_id == model.pk:
        raise ConflictError(f"Fraud model v{model.version} is already active.", field="model")
    reason = (
        f"Fraud model v{model.version} activated (requested by {request.requested_by.get_username()}, "
        f"approved by {actor.label}): {request.reason}"
    )
    model_activate(model=model, actor=actor, reason=reason[:REASON_MAX])
    return {"model": model.version, "config_version": _live_number()}


def register_kinds() -> None:
    register(
        ChangeKind(
            name=CONFIG_PROMOTE,
            label="Promote a fraud configuration version",
            permission=PROMOTE_PERMISSION,
            apply=_apply_config_promote,
        )
    )
    register(
        ChangeKind(
            name=MODEL_ACTIVATE,
            label="Activate a fraud model",
            permission=ACTIVATE_PERMISSION,
            apply=_apply_model_activate,
        )
    )
