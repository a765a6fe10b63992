"""/api/v1/api-keys/: list, create (the key is in the answer once) and revoke vendor keys."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.errors import AccountError
from accounts.models import ApiKey
from accounts.services.api_keys import api_key_create, api_key_revoke
from core.actors import Actor
from core.api.views import ApiViewSet

from .serializers import ApiKeyCreateSerializer, ApiKeySerializer, IssuedApiKeySerializer


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = ApiKeySerializer

    def base_queryset(self):
        return ApiKey.objects.all()

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: IssuedApiKeySerializer})
    def create(self, request):
        incoming = ApiKeyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        if self.caller_partner_id() is not None:
            # Partner keys are created in the portal by the partner's own users.
            raise serializers.ValidationError({"name": ["Partner keys cannot create keys."]})
        try:
            issued = api_key_create(
                name=incoming.validated_data["name"], actor=Actor.from_request(request)
            )
        except AccountError as exc:
            raise serializers.ValidationError({"name": [str(exc)]}) from exc
        data = IssuedApiKeySerializer(issued.api_key).data
        data["key"] = issued.secret
        response = Response(data, status=status.HTTP_201_CREATED)
        response.idempotency_redact = ["key"]  # a replay must not reveal the key again
        return response

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        api_key = self.get_object()
        try:
            api_key = api_key_revoke(api_key=api_key, actor=Actor.from_request(request))
        except AccountError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        return Response(ApiKeySerializer(api_key).data)
