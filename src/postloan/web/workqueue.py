"""Each role's work queue on the home page.

Apps register a queue per role: a title, a function returning the items for
the user (already scoped), and a link to the full list. The home page shows
the queues of every role the user holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from postloan.org.roles import roles_of


@dataclass(frozen=True)
class Queue:
    key: str
    roles: tuple[str, ...]
    title: object
    items: Callable  # (user) -> list[dict(label, url, detail)]
    order: int = 100
    empty: object = ""


_QUEUES: dict[str, Queue] = {}


def register(queue: Queue) -> None:
    _QUEUES[queue.key] = queue


def queues_for(user) -> list[dict]:
    mine = roles_of(user)
    shown = []
    for queue in sorted(_QUEUES.values(), key=lambda q: q.order):
        if user.is_superuser or mine & set(queue.roles):
            shown.append({"key": queue.key, "title": queue.title, "items": list(queue.items(user)),
                          "empty": queue.empty})
    return shown
