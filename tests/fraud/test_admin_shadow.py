"""Shadow mode in the back office: a draft's page puts it in shadow and takes it out,
each with a reason and an audit row; the comparison page counts a period's decisions,
the live x shadow matrix and the changed ones with both scores and why; the transactions
list filters by a shadow's decisions; viewers compare but neither start nor end."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cardsystem.models import AuditLog
from fraud import shadow
from fraud.models import FraudConfigVersion, Rule, ShadowDecision
from fraud.versions import config_version_create
from tests.admin_pages import change_url
from tests.authorizing import authorize_at
from tests.factories import TEST_ACTOR, UserFactory
from tests.fraud.clock import MINUTE, NOW

pytestmark = pytest.mark.django_db
authorize = authorize_at(NOW)
TRANSACTIONS = reverse("admin:transactions_transaction_changelist")
SHADOW_INLINE = 'id="shadow_decision-group"'
CASINO_ABROAD = {"merchant_country": "NG", "mcc": "7995", "merchant_id": "M-NG", "channel": "ecommerce"}


def start_url(version):
    return reverse("admin:fraud_shadow_start", args=[version.pk])


def end_url(version):
    return reverse("admin:fraud_shadow_end", args=[version.pk])


def compare_url(version):
    return reverse("admin:fraud_shadow_compare", args=[version.pk])


@pytest.fixture
def draft(high_risk_country):
    """Nigeria's points from 30 to 50: a casino there goes from 60 (review) to 80 (decline)."""
    Rule.objects.filter(code="high_risk_country").update(score=50)
    return config_version_create(actor=TEST_ACTOR, reason="Nigeria weighs more.")


def test_a_draft_goes_in_shadow_and_out_from_its_page_with_audited_reasons(admin_client, staff_user, draft):
    page = admin_client.get(change_url(draft)).content.decode()
    assert start_url(draft) in page and end_url(draft) not in page

    response = admin_client.post(start_url(draft), {"reason": "Watch Nigeria."})

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.SHADOW
    page = admin_client.get(change_url(draft)).content.decode()
    assert end_url(draft) in page and compare_url(draft) in page and start_url(draft) not in page
    assert admin_client.post(end_url(draft), {"reason": "Enough."}).status_code == 302
    audits = AuditLog.objects.filter(action__startswith="fraud.config_shadow").order_by("id")
    assert [(a.action, a.actor_user, a.details["reason"]) for a in audits] == [
        (AuditLog.Action.CONFIG_SHADOW_STARTED, staff_user, "Watch Nigeria."),
        (AuditLog.Action.CONFIG_SHADOW_ENDED, staff_user, "Enough."),
    ]


def test_a_second_shadow_is_refused_on_the_form_and_nothing_changes(admin_client, draft):
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="First.")
    Rule.objects.filter(code="high_risk_country").update(score=40)
    other = config_version_create(actor=TEST_ACTOR, reason="Another.")

    response = admin_client.post(start_url(other), {"reason": "Second."})

    assert response.status_code == 200 and "take it out first" in response.content.decode()
    other.refresh_from_db()
    assert other.state == FraudConfigVersion.State.DRAFT


def test_the_comparison_page_shows_the_counts_the_matrix_and_why(admin_client, draft, card):
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")
    authorize(card)  # coffee: approved by both
    authorize(card, transaction_time=NOW + MINUTE, **CASINO_ABROAD)  # 60 review -> 80 decline
    day = datetime.timedelta(days=1)

    page = admin_client.get(
        compare_url(draft), {"since": (NOW - day).isoformat(), "until": (NOW + day).isoformat()}
    ).content.decode()

    assert "2 decisions scored in shadow, 1 would change" in page
    matrix = page[page.index('id="shadow-summary"') : page.index('id="shadow-changed"')]
    assert matrix.count("<td>1</td>") == 2 and matrix.count("<td>0</td>") == 7
    assert "review 00" in page and "decline 59" in page and "high_risk_country 30→50" in page


def test_a_bad_period_names_the_field(admin_client, draft):
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")

    response = admin_client.get(
        compare_url(draft), {"since": NOW.isoformat(), "until": (NOW - MINUTE).isoformat()}
    )

    assert response.status_code == 200 and response.context["result"] is None
    assert "until" in response.context["form"].errors


def test_the_transactions_list_filters_by_what_a_shadow_would_change(admin_client, draft, card):
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")
    authorize(card)
    changed = authorize(card, transaction_time=NOW + MINUTE, **CASINO_ABROAD)

    everything = admin_client.get(TRANSACTIONS, {"shadow": str(draft.number)})
    only_changed = admin_client.get(TRANSACTIONS, {"shadow": f"{draft.number}-changed"})

    assert everything.context["cl"].result_count == 2
    assert [t.pk for t in only_changed.context["cl"].result_list] == [changed.pk]
    assert ShadowDecision.objects.filter(changed=True).count() == 1


def test_a_viewer_compares_but_neither_starts_nor_ends_a_shadow(client, draft):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_fraudconfigversion"))
    client.force_login(viewer)

    assert client.post(start_url(draft), {"reason": "Mine."}).status_code == 403
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")
    assert client.post(end_url(draft), {"reason": "Mine."}).status_code == 403
    assert client.get(compare_url(draft)).status_code == 200
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.SHADOW


def test_a_transaction_page_shows_what_the_shadow_decided_beside_the_live_decision(admin_client, draft, card):
    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")
    changed = authorize(card, **CASINO_ABROAD)  # live 60 review, shadow 80 decline

    page = admin_client.get(change_url(changed)).content.decode()

    assert "Shadow decision (never changed the answer)" in page
    assert compare_url(draft) in page and f"v{draft.number}</a>" in page
    assert "decline 59 (live: review 00)" in page
    assert "(live: 60)" in page and "high_risk_country" in page


def test_a_transaction_page_without_a_shadow_or_the_permission_shows_no_shadow(
    client, admin_client, draft, card
):
    unshadowed = authorize(card)
    assert SHADOW_INLINE not in admin_client.get(change_url(unshadowed)).content.decode()

    shadow.shadow_start(version=draft, actor=TEST_ACTOR, reason="Watch.")
    shadowed = authorize(card, transaction_time=NOW + MINUTE, **CASINO_ABROAD)
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_transaction"))
    client.force_login(clerk)
    response = client.get(change_url(shadowed))

    assert response.status_code == 200 and SHADOW_INLINE not in response.content.decode()
