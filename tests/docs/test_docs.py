"""The documentation: the site builds with strict link checking, every `act-tool ...` command
shown in the README and the docs parses with the real command line (an option that does not
exist fails), every `make` target shown exists, and the README stays a front door."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from act_tool.cli_reference import commands, reference_pages, root_command

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 120
# fenced blocks whose lines are commands to try (text blocks show messages and output)
SHELL_LANGS = {"", "sh", "bash", "shell", "console"}
FENCE = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^\1```", re.M | re.S)
# a venv's bin folder or a prompt before the command
PREFIX = re.compile(r"^(\$\s+)?(\S*/bin/)?")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def shell_lines(text: str) -> list[str]:
    """The logical lines of the shell blocks: continuations joined, comments dropped."""
    lines = []
    for match in FENCE.finditer(text):
        if match.group(2).lower() not in SHELL_LANGS:
            continue
        body = re.sub(r"[ \t]*\\\n\s*", " ", match.group(3))
        for line in body.splitlines():
            line = PREFIX.sub("", line.strip())
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def documented(program: str) -> list[tuple[str, list[str]]]:
    """(file, argv after the program) of every `program ...` line in a shell block."""
    found = []
    for path in markdown_files():
        for line in shell_lines(path.read_text()):
            if line.split()[0] != program:
                continue
            words = shlex.split(line, comments=True)
            if words and words[0] == program:
                found.append((str(path.relative_to(ROOT)), words[1:]))
    return found


def parse(argv: list[str]) -> None:
    """Parse `act-tool ARGV` as the command line would, down to the command, without running
    it; placeholders `...` (more options) are left out."""
    args = [a for a in argv if a != "..."]
    cmd, name = root_command(), "act-tool"
    try:
        ctx = cmd.make_context(name, list(args), resilient_parsing=False)
    except Exception as e:  # --version, --help: an eager option that answered and exited 0
        if type(e).__name__ == "Exit" and getattr(e, "exit_code", 1) == 0:
            return
        raise
    while hasattr(cmd, "commands"):
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        if not rest:
            return
        sub_name, sub, rest = cmd.resolve_command(ctx, rest)
        name = f"{name} {sub_name}"
        cmd = sub
        ctx = cmd.make_context(name, list(rest), parent=ctx, resilient_parsing=False)


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; the front door stays within {README_MAX_LINES}: "
        "move the details to a page under docs/"
    )


def test_readme_links_exist():
    text = README.read_text()
    missing = []
    for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+:", target) and not (ROOT / target).exists():
            missing.append(target)
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_documented_commands_parse():
    found = documented("act-tool")
    assert len(found) > 40  # the docs show many; a broken extraction finds none
    failures = []
    for where, argv in found:
        try:
            parse(argv)
        except Exception as e:  # a usage error of any kind: report them all at once
            failures.append(f"{where}: act-tool {shlex.join(argv)}\n    {type(e).__name__}: {e}")
    assert not failures, "documented commands the command line refuses:\n" + "\n".join(failures)


def test_a_removed_option_fails_the_check():
    with pytest.raises(Exception, match="No such option"):
        parse(["run", "--engine", "act.onnx", "--port", "emulated", "--no-such-option"])
    with pytest.raises(Exception, match="No such command|no such command"):
        parse(["no-such-command"])
    with pytest.raises(Exception, match="is not one of"):
        parse(["eval", "act.onnx", "--sim", "--backend", "no-such-backend"])
    parse(["dataset", "sim", "-o", "data/sim", "--episodes", "2"])
    parse(["train", "--dataset", "d", "-o", "r", "--", "--policy.dim_model=256"])


def test_shell_lines_join_continuations_and_skip_text():
    text = "```sh\nact-tool eval a.onnx --port emulated \\\n    --episodes 3  # note\n```\n"
    text += "```text\nact-tool run --nope\n```\n"
    assert shell_lines(text) == ["act-tool eval a.onnx --port emulated --episodes 3  # note"]


def test_documented_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.M))
    shown = {argv[0] for _, argv in documented("make") if argv and "=" not in argv[0]}
    assert shown and shown <= targets, f"make targets shown but missing: {shown - targets}"


def test_every_command_has_a_reference_page():
    pages = reference_pages()
    for name, _cmd in commands():
        page = "-".join(name.split()[1:]) + ".md"
        assert page in pages and f"# {name}" in pages[page]
    run = pages["run.md"]
    assert "`--engine`" in run and "required" in run and "`--port`" in run
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in pages:
        assert f"reference/{page}" in nav, f"mkdocs.yml's nav lacks reference/{page}"


@pytest.mark.slow
def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="the docs extra: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    for page in (
        "index.html",
        "reference/run/index.html",
        "benchmarks/results/bench_cpu/index.html",
    ):
        assert (site / page).is_file(), page
    assert "--max-relative-target" in (site / "reference/run/index.html").read_text()


def test_examples_in_the_help_texts_parse():
    """The examples in the commands' own help (shown on their reference pages) parse too."""
    found = 0
    for name, page in reference_pages().items():
        for block in re.findall(r"```text\n(.*?)```", page, re.S):
            for line in block.splitlines():
                if line.strip().startswith("act-tool "):
                    found += 1
                    try:
                        parse(shlex.split(line.strip())[1:])
                    except Exception as e:
                        pytest.fail(f"reference/{name}: {line.strip()}\n    {e}")
    assert found >= 3


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", nav, re.M))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    missing = sorted(pages - listed)
    assert not missing, "pages mkdocs.yml's nav does not list; add a line for each:\n" + "\n".join(
        f"      - {Path(m).stem.replace('-', ' ').capitalize()}: {m}" for m in missing
    )
