"""The shared template components other pages build on."""

import re

import pytest
from django import forms
from django.template.loader import render_to_string


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        ("active", "badge-success"),
        ("paid", "badge-success"),
        ("suspended", "badge-danger"),
        ("uncollectible", "badge-danger"),
        ("draft", "badge-warning"),
        ("review", "badge-warning"),
        ("open", "badge-info"),
        ("nfr", "badge-info"),
        ("something-new", "badge-neutral"),
        # Whole words only: "act" is not "active", "pen" is not "open"/"pending".
        ("act", "badge-neutral"),
        ("pen", "badge-neutral"),
    ],
)
def test_status_badge_tone(status, tone):
    html = render_to_string("includes/status_badge.html", {"status": status, "label": "Word"})
    assert html.strip() == f'<span class="badge badge-status {tone}">Word</span>'


def test_status_badge_falls_back_to_the_status_as_label():
    html = render_to_string("includes/status_badge.html", {"status": "draft"})
    assert html.strip() == '<span class="badge badge-status badge-warning">draft</span>'


def test_progress_with_a_value():
    html = render_to_string(
        "includes/progress.html", {"label": "Rating partners", "value": 40, "id": "close"}
    )
    assert '<span id="close-label">Rating partners</span><output for="close">40%</output>' in html
    assert (
        '<progress class="progress" id="close" aria-labelledby="close-label" max="100" '
        'value="40">40%</progress>'
    ) in html


def test_progress_without_a_value_is_indeterminate():
    html = render_to_string("includes/progress.html", {"label": "Starting", "value": None})
    assert re.search(r'<progress class="progress" id="progress" [^>]*max="100"></progress>', html)
    assert "<output" not in html


def test_empty_state():
    html = render_to_string(
        "includes/empty_state.html",
        {"title": "No keys", "text": "Create one.", "action_url": "/x/", "action_label": "New"},
    )
    assert "<h2>No keys</h2>" in html
    assert "<p>Create one.</p>" in html
    assert '<a class="button" href="/x/">New</a>' in html


class _Form(forms.Form):
    name = forms.CharField(help_text="Your name.")
    agree = forms.BooleanField()
    colour = forms.ChoiceField(choices=[("r", "Red"), ("g", "Green")], widget=forms.RadioSelect)


def test_form_fields_link_help_and_errors_to_inputs():
    form = _Form(data={"name": ""})
    html = render_to_string("includes/form_fields.html", {"form": form})
    assert (
        '<input type="text" name="name" required aria-invalid="true" '
        'aria-describedby="id_name_helptext id_name_error" id="id_name">'
    ) in html
    assert '<small class="help" id="id_name_helptext">Your name.</small>' in html
    assert '<ul class="errorlist" id="id_name_error"><li>This field is required.</li></ul>' in html
    # Checkboxes: input before its label.
    assert re.search(r'<input type="checkbox" [^>]*id="id_agree"> <label for="id_agree">', html)
    # Radio groups are a fieldset with a legend.
    assert re.search(r'<fieldset aria-describedby="id_colour_error">\s*<legend>Colour', html), html
