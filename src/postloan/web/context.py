from postloan.kernel import businessdate
from postloan.org.roles import ROLES, roles_of

from . import nav


def shell(request) -> dict:
    """What every page's frame shows: the business date, the menu, the user's roles."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "business_date": businessdate.current(),
        "nav_items": nav.items_for(user),
        "user_roles": [ROLES[r] for r in sorted(roles_of(user))],
    }
