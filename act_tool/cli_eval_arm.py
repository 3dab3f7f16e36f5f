"""`act-tool eval --port ...`: evaluation episodes on an arm (act_tool.eval.arm_episodes), with
the operator's keys when stdin is a terminal, --verdicts when headless, and --record."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import typer

from act_tool.cli_common import fail
from act_tool.cli_run import open_display, open_recorder, run_options
from act_tool.errors import ActToolError
from act_tool.spec import atomic_write_text

# the options of `run` that eval passes through as they are
RUN_ARGS = tuple(inspect.signature(run_options).parameters)[2:]  # after engine, port


def eval_on_arm(args: dict[str, Any]) -> None:
    """Run the session from eval_command's arguments; print the summary, write --json."""
    from act_tool.eval.arm_episodes import ArmEvalOptions, parse_verdicts, run_arm_eval
    from act_tool.eval.keys import NoKeys, TerminalKeys
    from act_tool.runtime.loop_config import LoopError

    recorder = viewer = None
    try:
        for flag, name in (("--compare", "compare"), ("--video", "video"),
                           ("--checkpoint", "checkpoint")):  # fmt: skip
            if args[name]:
                raise ActToolError(f"{flag} is for --sim, not an arm")
        if args["jobs"] != 1:
            raise ActToolError("--jobs is for --sim: an arm runs one episode at a time")
        episodes = 10 if args["episodes"] is None else args["episodes"]
        run_args = {k: args[k] for k in RUN_ARGS if k in args}
        options = ArmEvalOptions(
            run=run_options(args["target"], args["port"], **run_args),
            episodes=episodes,
            episode_time_s=60.0 if args["episode_time"] is None else args["episode_time"],
            reset_time_s=args["reset_time"],
            reset=args["reset"],
            verdicts=parse_verdicts(args["verdicts"], episodes),
        )
        _check_json(args["json_path"])
        recorder = open_recorder(args["record"], args["task"], args["resume"], args["record_codec"])
        viewer = open_display(args["display"], args["display_save"])
        keys = TerminalKeys() if TerminalKeys.available() else NoKeys()
        if isinstance(keys, NoKeys) and options.verdicts is None:
            typer.echo("note: stdin is no terminal: no keys; verdicts stay unknown (--verdicts)")
        observers = [viewer] if viewer is not None else []
        report = run_arm_eval(options, typer.echo, keys, recorder, observers)
    except LoopError as e:
        if e.summary is not None:
            typer.echo(e.summary.table())
        fail(e)
    except ActToolError as e:
        fail(e)
    finally:
        for observer in (recorder, viewer):
            if observer is not None:
                observer.close()
    typer.echo(report.text())
    if args["json_path"] is not None:
        data = {"target": str(args["target"]), "port": args["port"], **report.to_dict()}
        data["machine"] = {"cpus": os.cpu_count()}
        atomic_write_text(Path(args["json_path"]), json.dumps(data, indent=2) + "\n")
        typer.echo(f"results: {args['json_path']}")


def _check_json(path: Path | None) -> None:
    """An unwritable --json is a usage error before the arm moves (the check --sim makes)."""
    from act_tool.eval.evaluate import check_writable

    if path is not None:
        check_writable("--json", Path(path).parent)
