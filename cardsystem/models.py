import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import F, Q
from django_otp.models import Device, ThrottlingMixin, TimestampMixin


class ApiClient(models.Model):
    """A system that calls the API (an acquirer, a processor, an internal tool).

    Only a SHA-256 hash of its key is stored; the key is shown once, when created.
    Keys are 256-bit random tokens, so a plain (unsalted) hash is enough to make
    the table useless to a thief while keeping the lookup a single indexed read.
    """

    class Scope(models.TextChoices):
        AUTHORIZE = "authorize", "authorize (submit and reverse authorizations)"
        MANAGE = "manage", "manage (BINs, cardholders, cards, top-ups, transactions)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    key_prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # None: the key does not expire, as for every client created before keys could.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The key a rotation replaced, still accepted until previous_key_expires_at so that a
    # client can deploy its new key without an outage.
    previous_key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True)
    # Recorded at most once a minute (see api_client_record_use): not a write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Requests allowed per scope, {"authorize": "50/second"}; a scope not named has no limit.
    # Set through api_client_set_rate_limits, read by cardsystem.throttling from this row.
    rate_limits = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"
        permissions = [("manage_apiclients", "Can create, revoke and rotate API clients and set limits")]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    # DRF treats request.user as the authenticated principal.
    is_authenticated = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class AuditLog(models.Model):
    """Who did what, and when. Append-only; never holds a PAN or CVV."""

    class Action(models.TextChoices):
        LOGIN = "auth.login", "staff login"
        LOGIN_FAILED = "auth.login_failed", "failed staff login"
        LOGOUT = "auth.logout", "staff logout"
        LOCKOUT = "auth.lockout", "staff lockout"
        STAFF_USER_CREATED = "staff.created", "staff user created"
        STAFF_USER_DELETED = "staff.deleted", "staff user deleted"
        STAFF_FLAGS_CHANGED = "staff.flags_changed", "staff, superuser or active flag changed"
        STAFF_GROUPS_CHANGED = "staff.groups_changed", "staff user's groups changed"
        STAFF_PERMISSIONS_CHANGED = "staff.permissions_changed", "staff user's permissions changed"
        GROUP_CREATED = "group.created", "group created"
        GROUP_DELETED = "group.deleted", "group deleted"
        GROUP_PERMISSIONS_CHANGED = "group.permissions_changed", "group's permissions changed"
        API_AUTH_FAILED = "api.auth_failed", "failed API authentication"
        SECOND_FACTOR_FAILED = "auth.second_factor_failed", "failed staff login (wrong second-factor code)"
        MFA_ENROLLED = "mfa.enrolled", "second factor enrolled"
        MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used", "recovery code used to log in"
        MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated", "recovery codes regenerated"
        MFA_RESET = "mfa.reset", "second factor reset by an administrator"
        API_CLIENT_CREATED = "api_client.created", "API client created"
        API_CLIENT_REVOKED = "api_client.revoked", "API client revoked"
        API_CLIENT_KEY_ROTATED = "api_client.key_rotated", "API client key rotated"
        API_CLIENT_RATE_LIMITS_CHANGED = "api_client.rate_limits_changed", "API client rate limits changed"
        API_AUTH_FAILURES_LIMITED = "api.auth_failures_limited", "failed API authentications over the limit"
        BIN_CREATED = "bin.created", "BIN created"
        BIN_ACTIVATED = "bin.activated", "BIN activated"
        BIN_DEACTIVATED = "bin.deactivated", "BIN deactivated"
        BINS_IMPORTED = "bin.imported", "BINs imported"
        CARDHOLDER_CREATED = "cardholder.created", "cardholder created"
        CARD_ISSUED = "card.issued", "card issued"
        CARD_ASSIGNED = "card.assigned", "card assigned to a cardholder"
        CARD_STATUS_CHANGED = "card.status_changed", "card status changed"
        CARD_LIMITS_CHANGED = "card.limits_changed", "card limits changed"
        CARD_TOPPED_UP = "card.topped_up", "card topped up"
        CARD_REPLACED = "card.replaced", "card replaced"
        CARDS_BULK_ISSUED = "card.bulk_issued", "cards bulk issued"
        DEMO_CREDENTIALS = "demo.credentials", "demo credentials issued"
        ALERT_DECIDED = "fraud.alert_decided", "fraud alert decided"
        CASE_ASSIGNED = "fraud.case_assigned", "fraud case assigned"
        CASE_PRIORITY_CHANGED = "fraud.case_priority", "fraud case priority changed"
        CASE_COMMENTED = "fraud.case_commented", "fraud case commented"
        CASE_RESOLVED = "fraud.case_resolved", "fraud case resolved"
        FRAUD_CONFIG_CHANGED = "fraud.config_changed", "fraud rules or settings changed"
        AUTHORIZATION_REVERSED = "authorization.reversed", "authorization reversed"
        FRAUD_REPORTED = "transaction.fraud_reported", "transaction reported as fraud"
        MODEL_TRAINED = "fraud.model_trained", "fraud model trained"
        MODEL_ACTIVATED = "fraud.model_activated", "fraud model activated"
        MODEL_DEACTIVATED = "fraud.model_deactivated", "fraud model deactivated"
        CARD_DATA_KEY_ROTATED = "card_data.key_rotated", "card data moved to the current key"
        CONFIG_VERSION_CREATED = "fraud.config_version_created", "fraud configuration version created"
        CONFIG_VERSION_PROMOTED = "fraud.config_version_promoted", "fraud configuration version promoted"
        CONFIG_WORKING_COPY_RESET = "fraud.config_working_copy_reset", "fraud working copy reset to a version"
        CONFIG_SHADOW_STARTED = "fraud.config_shadow_started", "fraud configuration version put in shadow"
        CONFIG_SHADOW_ENDED = "fraud.config_shadow_ended", "fraud configuration version taken out of shadow"
        CHANGE_REQUESTED = "change.requested", "change requested (four eyes)"
        CHANGE_APPROVED = "change.approved", "change approved (four eyes)"
        CHANGE_REJECTED = "change.rejected", "change rejected (four eyes)"
        CHANGE_WITHDRAWN = "change.withdrawn", "change request withdrawn"
        LIST_EXPORTED = "list.exported", "back-office list exported (CSV)"

    class ActorType(models.TextChoices):
        USER = "user", "staff user"
        API_CLIENT = "api_client", "API client"
        SYSTEM = "system", "system"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="The actor's name when the action happened.")
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"])]
        permissions = [("export_auditlog", "Can export the audit log as CSV")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target_label}"


class IdempotencyRecord(models.Model):
    """The first response to a client's POST under an Idempotency-Key.

    Stores a keyed digest of the request, never the body (it may hold a CVV), and
    the response without card data: responses that carried a PAN or CVV are
    re-rendered from the stored card on replay.
    """

    id = models.BigAutoField(primary_key=True)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_unique_client_key")
        ]

    def __str__(self):
        return f"{self.client_id} {self.key}"


class DataKey(models.Model):
    """A secret whose results outlive any one CARD_DATA_KEY, stored wrapped (encrypted)
    under the current one: a card verification key (every CVV printed with it must keep
    verifying) or the key of the stored request digests (cardsystem/data_keys.py).

    Versioned per purpose: what is made from now on uses the newest version, and what
    was made earlier names the version it used. Rotating CARD_DATA_KEY re-wraps the
    secret and never changes it. `wrapping_key_id` names the CARD_DATA_KEY it is
    wrapped under, never the key itself.
    """

    class Purpose(models.TextChoices):
        CARD_VERIFICATION = "cvv", "card verification key (CVV)"
        REQUEST_DIGEST = "request-digest", "Idempotency-Key request digests"
        DEVICE_DIGEST = "device-digest", "device identifier digests"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    version = models.PositiveIntegerField()
    wrapped = models.BinaryField()
    wrapping_key_id = models.CharField(max_length=16, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="data_key_unique_purpose_version")
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} v{self.version}"


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code. Codes are 80-bit random values, so (as for API
    keys) an unsalted SHA-256 leaves nothing to guess from the table."""
    return hashlib.sha256(code.encode()).hexdigest()


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's recovery codes, for when their authenticator app is not at hand.

    django-otp's StaticDevice keeps its codes in clear; this device keeps only their
    hashes (RecoveryCode). Each code works once. Throttled like the TOTP device: after a
    wrong code the next try waits 1, 2, 4, 8... seconds.
    """

    class Meta(Device.Meta):
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """Consumes the code when it is one of this device's (cardsystem.mfa normalises it)."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        used, _ = self.codes.filter(code_hash=recovery_code_hash(str(token))).delete()
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return bool(used)


class RecoveryCode(models.Model):
    """One unused recovery code, as its SHA-256 hash. Deleted when used."""

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="recovery_code_unique_per_device")
        ]

    def __str__(self):
        return f"recovery code {self.pk} of {self.device_id}"


class StaffSecondFactor(User):
    """Staff users as the back office's "Staff second factors" page lists them: who has
    enrolled, and (for an administrator) "Reset second factor" (cardsystem/admin_mfa.py)."""

    class Meta:
        proxy = True
        ordering = ["username"]
        verbose_name = "staff second factor"
        permissions = [("reset_second_factor", "Can reset a staff member's second factor")]


class StaffMember(User):
    """Holds the permission to manage staff (create staff users, grant staff, superuser
    and roles), which no model permission of Django's covers alone. No admin page."""

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("manage_staff", "Can create staff users and grant staff, superuser and roles")]


class ChangeRequest(models.Model):
    """A risky staff action held for a second person (four eyes): what would happen, who
    asked and why, and who approved or rejected it. Nothing takes effect before approval;
    cardsystem/change_requests.py applies it then, through the same service the
    one-person path uses. `params` holds what the action needs, never card data."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"
        WITHDRAWN = "withdrawn", "withdrawn"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    summary = models.CharField(max_length=200, help_text="What would happen, in words.")
    params = models.JSONField(default=dict, blank=True)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, help_text="Why the requester asks for it.")
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="What the approved action made.")

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        permissions = [("approve_changerequest", "Can approve or reject another person's change request")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decided_by=F("requested_by")), name="change_request_four_eyes"
            ),
        ]

    def __str__(self):
        return f"{self.get_status_display()}: {self.summary}"
