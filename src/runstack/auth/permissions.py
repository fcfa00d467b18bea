"""The permission model, as MLflow's basic-auth app has it: per user and experiment one of
READ (see), EDIT (see and change: log, tag, rename), MANAGE (also delete, restore and grant),
NO_PERMISSIONS. Admins may do everything; a default permission covers users with no grant."""

from __future__ import annotations

import enum


class Permission(enum.Enum):
    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3

    @classmethod
    def parse(cls, value: str) -> Permission:
        """The permission named ``value`` (any case); ValueError naming the choices."""
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(p.name for p in cls)
            raise ValueError(f"Unknown permission {value!r}; use one of {names}.") from None

    def allows(self, needed: Permission) -> bool:
        """Whether holding this permission is enough for an action needing ``needed``."""
        return self.value >= needed.value
