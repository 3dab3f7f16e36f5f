"""The command reference as Markdown, one page per command, generated from the same Click
objects that answer `--help`: the documentation site builds it (scripts/mkdocs_hooks.py), so a
new option appears in the reference with no step of its own.

    pages = reference_pages()       # {"run.md": "# act-tool run\n...", ..., "index.md": ...}
"""

from __future__ import annotations

from typing import Any

import typer

from act_tool.cli import app

PROG = "act-tool"


# Typer carries its own copy of Click, so commands and parameters are told apart by what they
# have (a group's `commands`, a parameter's `param_type_name`), not by Click's classes.
Command = Any


def root_command() -> Command:
    return typer.main.get_command(app)


def is_group(cmd: Command) -> bool:
    return hasattr(cmd, "commands")


def commands(group: Command | None = None, prefix: str = PROG):
    """(full name, command) for every command, groups' subcommands after the group."""
    group = root_command() if group is None else group
    for name, cmd in group.commands.items():
        yield f"{prefix} {name}", cmd
        if is_group(cmd):
            yield from commands(cmd, f"{prefix} {name}")


def page_name(full_name: str) -> str:
    """`act-tool dataset sim` -> `dataset-sim.md`."""
    return "-".join(full_name.split()[1:]) + ".md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _is_option(param: Any) -> bool:
    return param.param_type_name == "option"


def _names(param: Any) -> str:
    names = list(param.opts) + list(getattr(param, "secondary_opts", []))
    return ", ".join(f"`{n}`" for n in names)


def _type(param: Any, ctx: Any) -> str:
    if _is_option(param) and param.is_flag:
        return "flag"
    if hasattr(param.type, "choices"):
        return " \\| ".join(f"`{c}`" for c in param.type.choices)
    metavar = param.make_metavar(ctx)
    return f"`{metavar}`" if metavar else ""


def _default(param: Any) -> str:
    if param.required:
        return "required"
    default = param.default
    if _is_option(param) and param.is_flag and not param.secondary_opts:
        return ""
    if default is None or default == () or default == []:
        return ""
    if hasattr(default, "value"):  # an enum member
        default = default.value
    if _is_option(param) and param.secondary_opts and isinstance(default, bool):
        return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
    return f"`{default}`"


def command_page(full_name: str, cmd: Command) -> str:
    ctx = cmd.context_class(cmd, info_name=full_name)
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    lines = [f"# {full_name}", "", "```", f"{full_name} {usage}".rstrip(), "```", ""]
    if cmd.help:  # the summary as a sentence; the rest as --help shows it, line for line
        summary, _, rest = cmd.help.strip().partition("\n\n")
        lines += [" ".join(summary.split()), ""]
        if rest.strip():
            lines += ["```text", rest.strip("\n"), "```", ""]
    if is_group(cmd):
        lines += ["| command | what it does |", "| --- | --- |"]
        for name, sub in cmd.commands.items():
            sub_name = f"{full_name} {name}"
            summary = (sub.help or "").split("\n\n")[0]
            lines.append(f"| [`{sub_name}`]({page_name(sub_name)}) | {_cell(summary)} |")
        return "\n".join(lines) + "\n"
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    options = [p for p in cmd.params if _is_option(p)]
    if arguments:
        lines += ["## Arguments", "", "| argument | type | help |", "| --- | --- | --- |"]
        for p in arguments:
            help_text = getattr(p, "help", "") or ""
            lines.append(f"| `{p.human_readable_name}` | {_type(p, ctx)} | {_cell(help_text)} |")
        lines.append("")
    lines += ["## Options", "", "| option | type | default | help |", "| --- | --- | --- | --- |"]
    for p in options:
        if p.hidden:
            continue
        lines.append(f"| {_names(p)} | {_type(p, ctx)} | {_default(p)} | {_cell(p.help or '')} |")
    lines += ["| `--help` | flag | | Show the help and exit. |", ""]
    return "\n".join(lines)


def index_page() -> str:
    root = root_command()
    lines = [
        "# Command reference",
        "",
        "Generated from the command line's own definitions when the site is built: it lists "
        "exactly what `act-tool COMMAND --help` shows on this version.",
        "",
        "```",
        "act-tool [--version] COMMAND [OPTIONS] [ARGS]",
        "```",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    for full_name, cmd in commands(root):
        summary = (cmd.help or "").split("\n\n")[0]
        lines.append(f"| [`{full_name}`]({page_name(full_name)}) | {_cell(summary)} |")
    return "\n".join(lines) + "\n"


def reference_pages() -> dict[str, str]:
    """File name -> Markdown, the index included."""
    pages = {"index.md": index_page()}
    for full_name, cmd in commands():
        pages[page_name(full_name)] = command_page(full_name, cmd)
    return pages
