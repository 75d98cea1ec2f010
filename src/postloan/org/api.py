"""API for branches, users and the current user; and the scoped base viewset every app uses."""

from __future__ import annotations

import django_filters
from django.contrib.auth.models import Group
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import services
from .models import Branch, User
from .permissions import restrict
from .roles import ROLES, roles_of


class ScopedViewSetMixin:
    """Querysets go through ``restrict(user, action)``: role and branch, in the API as in the UI.

    Subclasses set ``queryset``, ``actions_required`` (the view action for
    reads under ``"list"``/``"retrieve"``) and ``branch_field``.
    """

    branch_field: str | None = "branch"
    view_action: str = ""

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.view_action, self.branch_field)


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "level", "parent", "path", "region", "active"]


class BranchFilter(django_filters.FilterSet):
    class Meta:
        model = Branch
        fields = {"code": ["exact"], "level": ["exact"], "parent": ["exact"], "active": ["exact"]}


class BranchViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Branch.objects.select_related("parent")
    serializer_class = BranchSerializer
    filterset_class = BranchFilter
    view_action = "org.view_branch"
    branch_field = ""  # the branch itself
    actions_required = {"*": "org.view_branch"}
    search_fields = ["code", "name"]
    ordering_fields = ["path", "code", "name"]


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "email", "phone", "branch", "roles", "is_active"]

    def get_roles(self, obj) -> list[str]:
        return sorted(roles_of(obj))


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True)
    full_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    branch = serializers.SlugRelatedField(slug_field="code", queryset=Branch.objects.all())
    roles = serializers.ListField(child=serializers.ChoiceField(choices=list(ROLES)), allow_empty=False)


class UserViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = User.objects.select_related("branch").prefetch_related("groups").order_by("username")
    serializer_class = UserSerializer
    view_action = "org.view_user"
    actions_required = {"list": "org.view_user", "retrieve": "org.view_user", "create": "org.manage_users",
                        "me": "kernel.view_business_date"}
    filterset_fields = ["branch", "is_active"]
    search_fields = ["username", "full_name"]

    def get_serializer_class(self):
        return UserCreateSerializer if self.action == "create" else UserSerializer

    def create(self, request, *args, **kwargs):
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.create_user(actor=request.user, **data.validated_data)
        return Response(UserSerializer(user).data, status=201)

    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserSerializer(request.user).data)


__all__ = ["ScopedViewSetMixin", "BranchViewSet", "UserViewSet", "Group"]
