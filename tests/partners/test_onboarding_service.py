"""Onboarding: steps complete from facts, custom steps by sign-off, activation when all are done."""

import pytest
from django_tenants.utils import schema_context

from accounts.services.api_keys import api_key_create
from core.actors import Actor
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import OnboardingProgress, OnboardingStep, PartnerStatusChange
from partners.services.onboarding import (
    onboarding_checklist,
    onboarding_refresh,
    onboarding_sign_off,
)
from tests.factories import ClientFactory, PartnerFactory, TrackFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def test_partner_becomes_active_when_every_required_step_is_done(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        steps = {
            kind: OnboardingStep.objects.create(track=track, kind=kind, title=kind, position=i)
            for i, kind in enumerate(
                [
                    OnboardingStepKind.FIRST_CLIENT,
                    OnboardingStepKind.API_KEY,
                    OnboardingStepKind.CUSTOM,
                ]
            )
        }
        OnboardingStep.objects.create(
            track=track,
            kind=OnboardingStepKind.COMPLETE_COURSE,
            title="optional",
            required=False,
            position=9,
        )
        partner = PartnerFactory(track=track, status=PartnerStatus.ONBOARDING)
        assert [i.done for i in onboarding_checklist(partner)] == [False, False, False, False]

        ClientFactory(partner=partner)
        api_key_create(name="rmm", partner_id=partner.pk, actor=ACTOR)
        assert onboarding_refresh(partner=partner, actor=ACTOR) is False  # custom step pending
        assert set(OnboardingProgress.objects.values_list("step__kind", flat=True)) == {
            "first_client",
            "api_key",
        }
        onboarding_sign_off(partner=partner, step=steps[OnboardingStepKind.CUSTOM], actor=ACTOR)
        partner.refresh_from_db()
        assert partner.status == PartnerStatus.ACTIVE
        assert PartnerStatusChange.objects.filter(
            partner=partner, to_status="active"
        ).get().reason == ("All required onboarding steps are done")
        with pytest.raises(PartnerError, match="already signed off"):
            onboarding_sign_off(partner=partner, step=steps[OnboardingStepKind.CUSTOM], actor=ACTOR)
        with pytest.raises(PartnerError, match="complete themselves"):
            onboarding_sign_off(
                partner=partner, step=steps[OnboardingStepKind.API_KEY], actor=ACTOR
            )
