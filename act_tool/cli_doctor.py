"""`act-tool doctor`, `act-tool find-port` and `act-tool find-cameras` (registered on the app in
act_tool/cli.py): what this machine offers, the arm's serial port, the cameras that open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from act_tool.cli_common import fail
from act_tool.errors import ActToolError

DEFAULT_IMAGES = Path("outputs/captured_images")  # where lerobot-find-cameras saves its images


def doctor(
    port: Annotated[
        list[str] | None,
        typer.Option("--port", help="Also ping the servos on this serial port (repeatable)."),
    ] = None,
    camera: Annotated[
        list[str] | None,
        typer.Option(
            "--camera",
            help="Also open this camera source: an index, /dev/videoN or a video file "
            "(repeatable).",
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the findings to this JSON file.")
    ] = None,
    twin: Annotated[
        bool, typer.Option(help="Render one frame of the digital twin (MuJoCo's offscreen GL).")
    ] = True,
) -> None:
    """Show what this machine can do for act-tool, each problem with the command that fixes it.

    Python and the extras, the versions of the libraries that decide the numbers (LeRobot,
    torch, ONNX Runtime, TensorRT, TensorRT-RTX, OpenVINO, MuJoCo), the GPU and TensorRT, serial
    ports with the servos that answer, cameras, real-time priority, the twin's rendering and
    LeRobot's calibration files. Read-only: servos are pinged (never written), cameras read for
    about a second each.
    """
    from act_tool.doctor.checks import DoctorOptions, run_doctor
    from act_tool.doctor.report import render_text, to_json
    from act_tool.eval.evaluate import check_writable
    from act_tool.spec import atomic_write_text

    if json_path is not None:
        try:  # before a minute of probing, not after
            check_writable("--json", json_path.parent)
        except ActToolError as e:
            fail(e)
    options = DoctorOptions(ports=tuple(port or ()), cameras=tuple(camera or ()), twin=twin)
    sections = run_doctor(options)
    typer.echo(render_text(sections))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(to_json(sections), indent=2) + "\n")
        typer.echo(f"findings: {json_path}")


def find_port() -> None:
    """Find the arm's serial port by unplugging its USB cable (like lerobot-find-port).

    Lists the serial ports, asks you to unplug the arm's USB cable and press Enter, and lists
    them again: the port that disappeared is the arm's.
    """
    from act_tool.hw.ports import find_arm_port, list_serial_ports

    search = find_arm_port(
        list_serial_ports,
        lambda text: typer.prompt(text, default="", show_default=False, prompt_suffix=" "),
        log=typer.echo,
    )
    if search.port is None:
        typer.secho(f"error: {search.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(search.message)


def find_cameras(
    camera: Annotated[
        list[str] | None,
        typer.Option(
            "--camera", help="Open this source instead of searching (index, /dev/videoN, file)."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for one frame per camera (PNG).")
    ] = DEFAULT_IMAGES,
    save: Annotated[bool, typer.Option(help="Save a frame of each camera in --output.")] = True,
    width: Annotated[
        int | None, typer.Option(help="Ask for this width (default: the camera's).")
    ] = None,
    height: Annotated[int | None, typer.Option(help="Ask for this height.")] = None,
    fps: Annotated[float | None, typer.Option(help="Ask for this frame rate.")] = None,
    seconds: Annotated[float, typer.Option(help="How long to read each camera.")] = 1.0,
) -> None:
    """List the cameras that open, save a frame of each (like lerobot-find-cameras).

    Each camera (OpenCV: /dev/video* on Linux, indices elsewhere) is read for about a second:
    its size, the rate asked for and the rate delivered. Prints the --cameras option that
    passes them to act-tool run.
    """
    from act_tool.hw import camera_probe

    sources = list(camera) if camera else camera_probe.camera_candidates()
    if not sources:
        typer.secho("error: no cameras found: plug in a USB camera", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    probes = []
    for source in sources:
        probe = camera_probe.probe_camera(source, seconds, width, height, fps)
        probes.append(probe)
        if not probe.opened:
            typer.echo(f"{source}: does not deliver frames ({probe.error})")
            continue
        line = (
            f"{source}: {probe.width}x{probe.height}, asked {probe.requested_fps:g} fps, "
            f"delivered {probe.delivered_fps:.1f} fps"
        )
        try:
            saved = camera_probe.save_frame(probe, output) if save else None
        except OSError as e:
            fail(ActToolError(f"--output: cannot save {source}'s frame into {output} ({e})"))
        typer.echo(line + (f"  -> {saved}" if saved else ""))
    fragment = camera_probe.cameras_fragment(probes)
    if not fragment:
        typer.secho("error: no camera delivered frames", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"pass them to act-tool run (swap the names if need be):\n  {fragment}")
