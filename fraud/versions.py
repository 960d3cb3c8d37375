"""Versions of the fraud configuration: the working copy saved as a numbered, immutable
draft, and a version promoted to live (an earlier one again: the rollback).

Staff edit the working copy (fraud/admin/configuration.py, fraud.services.fraud_config_save);
it decides nothing. `config_version_create` stores it as a draft, `config_version_promote`
makes a version the one every decision uses (fraud/configuration.py `live_config`).
"""

from dataclasses import replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from fraud.config_diff import diff
from fraud.configuration import (
    FraudConfig,
    as_snapshot,
    forget_live,
    read_config,
    version_config,
    without_version,
)
from fraud.models import (
    CountryRisk,
    FraudConfigVersion,
    FraudModel,
    FraudSettings,
    MerchantCategoryRisk,
    Rule,
)

State = FraudConfigVersion.State
REASON_MAX = FraudConfigVersion._meta.get_field("reason").max_length


def live_version() -> FraudConfigVersion | None:
    """The version that decides now, read from the database (not the process's copy)."""
    return FraudConfigVersion.objects.filter(state=State.LIVE).first()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why: every version and promotion records its reason."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"At most {REASON_MAX} characters."})
    return reason


def config_version_create(
    *, actor: Actor, reason: str, config: FraudConfig | None = None
) -> FraudConfigVersion:
    """Store the working copy (or `config`) as the next numbered version, a draft: it
    decides nothing until promoted. Its parent (`based_on`) is the version live now, the
    one it proposes to change. ValidationError (nothing written) without a reason or when
    it would be the live configuration again; ConflictError when another version took the
    number at the same moment (try again)."""
    reason = _reason(reason)
    config = without_version(config or read_config())
    snapshot = as_snapshot(config)
    try:
        with transaction.atomic():
            live = live_version()
            if live is not None and as_snapshot(version_config(live)) == snapshot:
                raise ValidationError(
                    f"This is the configuration of the live version {live.number}: nothing to save."
                )
            number = (FraudConfigVersion.objects.aggregate(last=Max("number"))["last"] or 0) + 1
            version = FraudConfigVersion(
                number=number,
                state=State.DRAFT,
                snapshot=snapshot,
                model_id=config.model.pk if config.model else None,
                based_on=live,
                reason=reason,
                created_by=actor.label[:150],
            )
            version.save(force_insert=True)
            audit_record(
                actor=actor,
                action=AuditAction.CONFIG_VERSION_CREATED,
                target=version,
                details={
                    "number": number,
                    "based_on": live.number if live else None,
                    "reason": reason,
                    "changes": [
                        change.as_dict() for change in diff(live.snapshot if live else None, snapshot)
                    ],
                },
            )
    except IntegrityError:
        raise ConflictError("Another version was saved at the same moment; try again.") from None
    return version


def config_version_promote(
    *, version: FraudConfigVersion, actor: Actor, reason: str, requested_by: str = ""
) -> FraudConfigVersion:
    """Make this version the live one, the one every decision uses from now on; the
    version live until now is retired. Promoting a retired version is the rollback.
    `requested_by` names the staff member who asked for it when `actor` approves another's
    request (four eyes, fraud/change_kinds.py); the audit row keeps both.
    This process decides with it at once, the others within fraud.scoring.CONFIG_TTL_SECONDS.

    ValidationError (nothing written) without a reason; ConflictError for the live version
    or when another promotion commits at the same moment (nothing written; try again)."""
    reason = _reason(reason)
    try:
        with transaction.atomic():
            version = FraudConfigVersion.objects.select_for_update().get(pk=version.pk)
            if version.state == State.LIVE:
                raise ConflictError(f"Version {version.number} is already live.", field="version")
            # The live one retires first: the database holds at most one live version
            # (fraud_config_one_live) at every statement, so of two promotions at once
            # one waits here and then fails on the constraint rather than both winning.
            previous = list(FraudConfigVersion.objects.select_for_update().filter(state=State.LIVE))
            for other in previous:
                other.state = State.RETIRED
                other.save(update_fields=["state"])
            was = version.state
            version.state = State.LIVE
            version.promoted_at = timezone.now()
            version.promoted_by = actor.label[:150]
            version.save(update_fields=["state", "promoted_at", "promoted_by"])
            _mark_active_model(version)
            audit_record(
                actor=actor,
                action=AuditAction.CONFIG_VERSION_PROMOTED,
                target=version,
                details={
                    "number": version.number,
                    "was": was,
                    "rollback": was == State.RETIRED,
                    "replaces": [other.number for other in previous],
                    "reason": reason,
                    **({"requested_by": requested_by} if requested_by else {}),
                    "changes": [
                        change.as_dict()
                        for change in diff(previous[0].snapshot if previous else None, version.snapshot)
                    ],
                },
            )
            transaction.on_commit(forget_live)
    except IntegrityError:
        raise ConflictError("Another version was promoted at the same moment; try again.") from None
    forget_live()
    return version


def _mark_active_model(version: FraudConfigVersion) -> None:
    """FraudModel.active shows the live version's model: set with the promotion."""
    FraudModel.objects.filter(active=True).exclude(pk=version.model_id).update(active=False)
    if version.model_id is not None:
        FraudModel.objects.filter(pk=version.model_id, active=False).update(
            active=True, activated_at=timezone.now()
        )


def config_version_create_and_promote(
    *, actor: Actor, reason: str, config: FraudConfig
) -> FraudConfigVersion:
    """An operator's explicit act that goes live at once (a model activated by command or
    from its page): a new version, promoted in the same transaction, both audited."""
    with transaction.atomic():
        version = config_version_create(actor=actor, reason=reason, config=config)
        return config_version_promote(version=version, actor=actor, reason=reason)


def live_config_with(**changes) -> FraudConfig:
    """The live version's configuration with some fields changed (the model, say); the
    working copy's when no version is live."""
    live = live_version()
    return replace(version_config(live) if live is not None else read_config(), version=None, **changes)


def working_copy_reset(*, version: FraudConfigVersion, actor: Actor, reason: str) -> None:
    """Replace the working copy by this version's configuration, to edit from there
    (after a rollback, say): thresholds, model, each rule's switch, points and params,
    and the risk lists (entries kept keep their notes). Decides nothing; audited."""
    reason = _reason(reason)
    snapshot = version.snapshot
    with transaction.atomic():
        before = as_snapshot(read_config())
        settings = FraudSettings.objects.select_for_update().first() or FraudSettings()
        settings.review_threshold = snapshot["review_threshold"]
        settings.decline_threshold = snapshot["decline_threshold"]
        settings.cvv_failure_limit = snapshot["cvv_failure_limit"]
        settings.model_id = version.model_id
        settings.save()
        for rule in Rule.objects.select_for_update().filter(code__in=snapshot["rules"]):
            stored = snapshot["rules"][rule.code]
            rule.enabled, rule.score, rule.params = stored["enabled"], stored["score"], stored["params"]
            rule.save(update_fields=["enabled", "score", "params", "updated_at"])
        for model, key, entries in (
            (CountryRisk, "country", snapshot["countries"]),
            (MerchantCategoryRisk, "mcc", snapshot["mccs"]),
        ):
            model.objects.exclude(**{f"{key}__in": list(entries)}).delete()
            for value, level in entries.items():
                model.objects.update_or_create(**{key: value}, defaults={"level": level})
        audit_record(
            actor=actor,
            action=AuditAction.CONFIG_WORKING_COPY_RESET,
            target=version,
            details={
                "number": version.number,
                "reason": reason,
                "changes": [change.as_dict() for change in diff(before, as_snapshot(read_config()))],
            },
        )
