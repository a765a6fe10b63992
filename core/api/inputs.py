"""Input serializer tools shared by every app's API: strict input shapes (an undeclared field is a
field error, not silently dropped) and decimals as strings (API.md: `"12.50"`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

__all__ = ["DecimalStringField", "StrictInputSerializer"]


class DecimalStringField(serializers.DecimalField):
    """A decimal input given as a JSON string ("12.50"), as the API's conventions have it. A JSON
    number with a fraction or exponent (a float once parsed) is refused rather than read through
    binary floating point (0.1 + 0.2 is not 0.3); whole numbers are exact and accepted."""

    default_error_messages = {"not_a_string": 'Give it as a decimal string, e.g. "12.50".'}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, float | bool):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not declare (unknown or read-only ones) with a field error."""

    # Output fields callers may echo back; they get a clearer message than a plain unknown one.
    read_only_names: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        errors: dict[str, list[ErrorDetail]] = {}
        if isinstance(data, Mapping):
            for name in sorted(set(data) - set(self.fields)):
                message = (
                    "This field is read-only."
                    if name in self.read_only_names
                    else "Unknown field, or one that cannot be set here."
                )
                errors[name] = [ErrorDetail(message, code="unknown_field")]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors = {**errors, **exc.detail}
            value = None
        if errors:
            raise serializers.ValidationError(errors)
        return value
