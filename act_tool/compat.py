"""What the core needs from Python versions newer than its floor (3.10, a Jetson's JetPack 6).

`StrEnum` is the standard library's from 3.11; on 3.10 the same behaviour (members are their
values as strings, `str()` gives the value) is defined here.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, Enum):  # noqa: UP042 - the 3.11 class does not exist on 3.10
        """Enum whose members are strings; `str(member)` and f-strings give its value."""

        def __str__(self) -> str:
            return str(self.value)

        __format__ = str.__format__

        @staticmethod
        def _generate_next_value_(name: str, start: int, count: int, last_values: list) -> str:
            return name.lower()


__all__ = ["StrEnum"]
