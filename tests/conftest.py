"""Shared fixtures: a small bank (head office, two branches, a sub-branch) and a user per role."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from postloan.org import services
from postloan.org.models import Branch
from postloan.org.roles import ROLES

PASSWORD = "Correct-horse-42"


@pytest.fixture
def bank(db):
    ho = services.create_branch(actor=None, code="HO", name="总行", level="head_office")
    bj = services.create_branch(actor=None, code="BJ", name="北京分行", level="branch", parent=ho)
    bj01 = services.create_branch(actor=None, code="BJ01", name="海淀支行", level="sub_branch", parent=bj)
    sh = services.create_branch(actor=None, code="SH", name="上海分行", level="branch", parent=ho)
    return {"HO": ho, "BJ": bj, "BJ01": bj01, "SH": sh}


@pytest.fixture
def make_user(bank):
    def make(role: str, branch: str = "BJ", username: str | None = None, **extra):
        assert role in ROLES
        return services.create_user(
            actor=None,
            username=username or f"{role}_{branch}".lower(),
            password=PASSWORD,
            branch=Branch.objects.get(code=branch),
            roles=[role],
            full_name=extra.get("full_name", f"{role} {branch}"),
        )

    return make


@pytest.fixture
def api(make_user):
    """``api(role, branch)`` returns an APIClient authenticated by token as that role."""

    def client_for(role: str, branch: str = "BJ", username: str | None = None) -> APIClient:
        user = make_user(role, branch, username)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=user).key)
        client.user = user
        return client

    return client_for
