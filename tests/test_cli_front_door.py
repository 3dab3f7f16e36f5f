"""The command line's front door: --version, summaries that read as sentences, doctor's
library versions."""

from __future__ import annotations

from typer.testing import CliRunner

from act_tool import __version__, versions
from act_tool.cli import app
from act_tool.cli_reference import commands
from act_tool.doctor import software
from act_tool.doctor.report import Status


def test_version_names_act_tool_and_the_libraries():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    assert first.startswith(f"act-tool {__version__} (Python ")
    labels = [line.split()[0] for line in rest]
    assert labels == [label.split()[0] for label in versions.LIBRARIES]


def test_a_library_that_is_absent_says_so(monkeypatch):
    from importlib import metadata

    def version(dist):
        if dist == "torch":
            return "9.9.9"
        raise metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(versions.metadata, "version", version)
    found = versions.library_versions()
    assert found["torch"] == "9.9.9" and found["LeRobot"] == ""
    assert "LeRobot       not installed" in versions.version_text()


def test_every_summary_is_one_sentence_on_one_line():
    """`act-tool --help` lists each command's first docstring paragraph: one line, a sentence,
    short enough not to be cut."""
    names = []
    for name, cmd in commands():
        names.append(name)
        summary = (cmd.help or "").split("\n\n")[0].strip()
        assert summary, name
        assert "\n" not in summary, f"{name}: summary spans lines: {summary!r}"
        assert summary[0].isupper() and summary.endswith("."), f"{name}: {summary!r}"
        assert len(summary) <= 100, f"{name}: {len(summary)} characters"
    assert "act-tool dataset sim" in names  # subcommands too


def test_root_help_shows_whole_summaries():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    assert "--version" in result.output
    assert "Evaluate a policy in closed loop, in the digital twin or on an arm" in result.output


def test_doctor_lists_the_library_versions(monkeypatch):
    monkeypatch.setattr(versions, "library_versions", lambda: {"LeRobot": "0.6.1", "TensorRT": ""})
    section = software.versions_section()
    items = {i.label: i for i in section.items}
    assert items["LeRobot"].status is Status.OK and items["LeRobot"].detail == "0.6.1"
    assert items["TensorRT"].status is Status.ABSENT
    assert section.data["libraries"] == {"LeRobot": "0.6.1", "TensorRT": ""}
