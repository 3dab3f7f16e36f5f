"""The doctor's findings: items grouped in sections, rendered as one screen of text or as JSON.

Every check returns a Section; `run_check` turns a check that raises into a section that says
so, so one broken probe never hides the others.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from act_tool.compat import StrEnum


class Status(StrEnum):
    """How an item stands; the text is its mark on screen."""

    OK = "ok"  # present and working
    ABSENT = "--"  # not here (an optional extra, a device not plugged in): fine if not needed
    PROBLEM = "!!"  # present but broken, or blocked: the fix says what to run


@dataclass(frozen=True)
class Item:
    """One finding: what it is about, how it stands, the detail, and the command that fixes it."""

    status: Status
    label: str
    detail: str
    fix: str = ""


@dataclass
class Section:
    """A group of findings and the raw facts behind them (for --json)."""

    title: str
    items: list[Item] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, status: Status, label: str, detail: str, fix: str = "") -> Item:
        item = Item(status, label, detail, fix)
        self.items.append(item)
        return item

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.status is Status.PROBLEM]


def run_check(title: str, check: Callable[[], Section]) -> Section:
    """`check()`, or a section reporting how it failed (never raises, except KeyboardInterrupt)."""
    try:
        return check()
    except Exception as e:
        section = Section(title)
        where = traceback.extract_tb(e.__traceback__)[-1]
        section.add(
            Status.PROBLEM,
            "check failed",
            f"{type(e).__name__}: {e} (at {where.filename}:{where.lineno})",
            "report it at the act-tool issue tracker with this output",
        )
        return section


def render_text(sections: Sequence[Section], width: int = 13, columns: int = 100) -> str:
    """The findings as text: a heading per section, one line per item, its fix beside it (or
    below, where the line would pass `columns`)."""
    lines: list[str] = []
    for section in sections:
        lines.append(section.title)
        if not section.items:
            lines.append("  --  nothing to report")
        for item in section.items:
            line = f"  {item.status.value:<2}  {item.label.ljust(width)} {item.detail}".rstrip()
            inline = f"{line}  (fix: {item.fix})"
            if not item.fix:
                lines.append(line)
            elif len(inline) <= columns:  # a short fix stays on its item's line
                lines.append(inline)
            else:
                lines += [line, f"      {'':{width}} fix: {item.fix}"]
        lines.append("")
    problems = sum(len(s.problems) for s in sections)
    lines.append(
        "no problems found" if not problems else f"{problems} problem(s) marked !!, each with a fix"
    )
    return "\n".join(lines)


def to_json(sections: Sequence[Section]) -> dict[str, Any]:
    """The findings as a JSON-ready dict."""
    return {
        "sections": [
            {
                "title": s.title,
                "items": [{**asdict(i), "status": i.status.name.lower()} for i in s.items],
                "data": s.data,
            }
            for s in sections
        ],
        "problems": sum(len(s.problems) for s in sections),
    }
