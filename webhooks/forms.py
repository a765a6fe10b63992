"""Console forms of the webhooks app (shape only; the services check URLs and event types)."""

from django import forms

from .enums import DeliveryStatus, WebhookEventType


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/msp"}),
        help_text="We POST signed JSON to this http(s) URL; answer with a 2xx status.",
    )
    description = forms.CharField(
        label="Description",
        max_length=200,
        required=False,
        help_text="Which integration this is, so you can tell endpoints apart.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event type."},
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *DeliveryStatus.choices],
    )
