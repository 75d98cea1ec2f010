"""Changes to branches and users: each one transaction, permission-checked and audited."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from postloan.kernel import audit

from .models import Branch, User
from .permissions import require
from .roles import ROLES


def ensure_role_groups() -> None:
    for code in ROLES:
        Group.objects.get_or_create(name=code)


@transaction.atomic
def create_branch(*, actor, code: str, name: str, level: str, parent: Branch | None = None, region: str = "",
                  reason: str = "") -> Branch:
    if actor is not None:
        require(actor, "org.manage_branches")
    branch = Branch(code=code, name=name, level=level, parent=parent, region=region)
    branch.full_clean()
    branch.save()
    audit.record(actor=actor, action="org.create_branch", obj=branch, branch=branch,
                 after=audit.snapshot(branch), reason=reason)
    return branch


@transaction.atomic
def create_user(*, actor, username: str, password: str, branch: Branch, roles: list[str], full_name: str = "",
                email: str = "", reason: str = "", password_hash: str | None = None) -> User:
    """Create a member of staff. ``actor=None`` is the command line (setup, demo)."""
    if actor is not None:
        require(actor, "org.manage_users", branch)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationError({"roles": [_("Unknown role: %(role)s") % {"role": ", ".join(unknown)}]})
    if not roles:
        raise ValidationError({"roles": [_("Give the user at least one role.")]})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [_("A user with this name exists already.")]})
    # Administrators use the admin area for reference data, which needs Django's staff flag.
    user = User(username=username, full_name=full_name, email=email, branch=branch, is_staff="admin" in roles)
    if password_hash is not None and actor is None:
        user.password = password_hash  # the demo bank: one argon2 hash shared by its users, computed once
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages})
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    ensure_role_groups()
    user.groups.set(Group.objects.filter(name__in=roles))
    audit.record(actor=actor, action="org.create_user", obj=user, branch=branch,
                 after={"username": username, "branch": branch.code, "roles": sorted(roles)}, reason=reason)
    return user
