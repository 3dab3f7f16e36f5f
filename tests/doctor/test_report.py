"""The doctor's screen and JSON."""

from __future__ import annotations

from act_tool.doctor.report import Section, Status, render_text, run_check, to_json


def test_text_has_a_line_per_item_and_the_fix_beside_or_below():
    section = Section("Things")
    section.add(Status.OK, "a", "fine")
    section.add(Status.PROBLEM, "b", "broken", "fix-it --now")
    section.add(Status.ABSENT, "c", "missing", "x" * 90)
    lines = render_text([section, Section("Empty")]).splitlines()
    assert lines[0] == "Things"
    assert lines[1].split() == ["ok", "a", "fine"]
    assert lines[2].split() == ["!!", "b", "broken", "(fix:", "fix-it", "--now)"]
    assert lines[3].split() == ["--", "c", "missing"]
    assert lines[4].strip() == "fix: " + "x" * 90
    assert "nothing to report" in lines[7]
    assert lines[-1] == "1 problem(s) marked !!, each with a fix"


def test_json_names_statuses():
    section = Section("S", data={"k": 1})
    section.add(Status.ABSENT, "x", "not here")
    found = to_json([section])
    assert found == {
        "sections": [
            {
                "title": "S",
                "items": [{"status": "absent", "label": "x", "detail": "not here", "fix": ""}],
                "data": {"k": 1},
            }
        ],
        "problems": 0,
    }


def test_run_check_catches():
    section = run_check("T", lambda: 1 / 0)
    assert section.title == "T" and "ZeroDivisionError" in section.items[0].detail
