"""Camera sources: what `--cameras front=0,handeye=synthetic` may name, and how each is opened.

A source kind is one entry in SOURCE_KINDS: its name, the syntax shown in help texts, a test on
the text after `NAME=`, and an opener that returns a FrameReader. The kinds are tried in order;
the first whose `matches` accepts the text wins, and `file` (anything else is a video file's
path) comes last. A new kind (say, frames rendered by a simulator) is one reader class and one
`register_source_kind` call; parsing, help texts and error messages follow from the registry.

    sources = parse_camera_args("front=0,handeye=synthetic")   # {"front": CameraSource(...)}
    reader = open_reader("front", sources["front"], CameraConfig())
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from act_tool.errors import ActToolError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class CameraError(ActToolError):
    """A camera that cannot be opened, delivers the wrong size, stalls, or died."""


@dataclass(frozen=True)
class CameraConfig:
    """What to ask every camera for, and how old a frame may be before it is refused."""

    width: int = 640
    height: int = 480
    fps: float = 30.0
    max_age_s: float = 0.5  # latest() raises when the newest frame is older than this
    open_timeout_s: float = 10.0  # how long start() waits for the first frame
    fourcc: str | None = None  # devices only, e.g. "MJPG" for high resolutions over USB 2
    # start() measures the rate over this many frame intervals (0: no measurement) and refuses
    # a camera slower than min_fps_ratio * fps
    rate_check_frames: int = 10
    min_fps_ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise CameraError(f"Camera size must be positive, got {self.width}x{self.height}.")
        if not 0 < self.fps <= 1000:
            raise CameraError(f"Camera fps must be in (0, 1000], got {self.fps}.")
        if self.max_age_s <= 0 or self.open_timeout_s <= 0:
            raise CameraError("max_age_s and open_timeout_s must be positive.")
        if self.fourcc is not None and len(self.fourcc) != 4:
            raise CameraError(f"fourcc must be four characters like 'MJPG', got {self.fourcc!r}.")
        if self.rate_check_frames < 0 or not 0 < self.min_fps_ratio <= 1:
            raise CameraError("rate_check_frames must be >= 0 and min_fps_ratio in (0, 1].")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, 3


class FrameReader(Protocol):
    """Fills a caller's (H,W,3) uint8 BGR buffer with the next frame; a Camera runs it on its
    capture thread."""

    fps: float | None  # the capture thread paces reads to this rate; None: the source paces

    def read_into(self, buf: np.ndarray) -> bool: ...  # False: no frame this time

    def close(self) -> None: ...


@dataclass(frozen=True)
class CameraSource:
    """One camera's source: the kind's name, and the text after `NAME=` (or its argument)."""

    kind: str  # a key of SOURCE_KINDS: "device", "file", "synthetic", ...
    location: str = ""  # the device ("0", "/dev/video0"), the file, or the kind's argument
    seed: int = 0  # synthetic: the same seed draws the same frames

    def __str__(self) -> str:
        if self.kind == "synthetic":
            return f"synthetic:{self.seed}"
        return f"{self.kind} {self.location}".strip()


# (name, source, config, context) -> reader. `context` holds what the session shares with its
# sources (a simulator's scene, for instance); most kinds ignore it.
Opener = Callable[[str, CameraSource, CameraConfig, Mapping[str, Any]], FrameReader]


@dataclass(frozen=True)
class SourceKind:
    """One kind of camera source."""

    name: str
    syntax: str  # as help texts show it: "INDEX", "synthetic[:SEED]"
    matches: Callable[[str], bool]
    # the source from the text after `NAME=` (position: the camera's place in --cameras), or
    # "module:function", imported when such a source is parsed
    parse: Callable[[str, int], CameraSource] | str
    opener: Opener | str  # or "module:function", imported when a camera of this kind opens


def _synthetic(text: str, position: int) -> CameraSource:
    seed_text = text.removeprefix("synthetic").removeprefix(":")
    if seed_text and not seed_text.isdigit():
        raise CameraError(f"Bad synthetic seed in {text!r}: use e.g. 'synthetic:3'.")
    # unseeded synthetic cameras get their position as seed, so two of them differ
    return CameraSource("synthetic", "", int(seed_text) if seed_text else position)


_READERS = "act_tool.hw.camera_readers"
SOURCE_KINDS: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind(
            "device",
            "INDEX or /dev/videoN",
            lambda t: t.isdigit() or t.startswith("/dev/"),
            lambda t, _: CameraSource("device", t),
            f"{_READERS}:open_capture",
        ),
        SourceKind(
            "synthetic",
            "synthetic[:SEED]",
            lambda t: t == "synthetic" or t.startswith("synthetic:"),
            _synthetic,
            f"{_READERS}:open_synthetic",
        ),
        SourceKind(
            "file",
            "VIDEO_FILE",
            lambda t: True,
            lambda t, _: CameraSource("file", t),
            f"{_READERS}:open_capture",
        ),
    )
}


def register_source_kind(kind: SourceKind) -> None:
    """Add (or replace) a source kind; it is tried before `file`, which takes any text."""
    kinds = {k: v for k, v in SOURCE_KINDS.items() if k not in (kind.name, "file")}
    kinds[kind.name] = kind
    kinds["file"] = SOURCE_KINDS["file"]
    SOURCE_KINDS.clear()
    SOURCE_KINDS.update(kinds)


def unregister_source_kind(name: str) -> None:
    if name != "file":
        SOURCE_KINDS.pop(name, None)


def source_help() -> str:
    """The source grammar, for help texts and error messages."""
    return "a source is " + ", ".join(k.syntax for k in SOURCE_KINDS.values())


def source_placeholder() -> str:
    """`<INDEX or /dev/videoN|synthetic[:SEED]|...>`: what may follow `NAME=`."""
    return "<" + "|".join(k.syntax for k in SOURCE_KINDS.values()) + ">"


def parse_source(text: str, position: int = 0) -> CameraSource:
    text = text.strip()
    if not text:
        raise CameraError(f"Empty camera source: {source_help()}.")
    kind = next(k for k in SOURCE_KINDS.values() if k.matches(text))
    return _resolve(kind.parse)(text, position)


def parse_camera_args(text: str) -> dict[str, CameraSource]:
    """Parse the CLI's `--cameras front=0,handeye=synthetic` into {name: source}, in order."""
    cameras: dict[str, CameraSource] = {}
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise CameraError(f"Bad --cameras {text!r}: expected NAME=SOURCE[,NAME=SOURCE...].")
    for position, item in enumerate(items):
        name, sep, source = (part.strip() for part in item.partition("="))
        if not sep:
            raise CameraError(
                f"Bad camera {item!r} in {text!r}: expected NAME=SOURCE, e.g. front=0; "
                f"{source_help()}."
            )
        if not _NAME.match(name):
            raise CameraError(
                f"Bad camera name {name!r} in {text!r}: use letters, digits and underscores, "
                "starting with a letter (the name of the policy's observation.images.NAME)."
            )
        if name in cameras:
            raise CameraError(f"Camera {name!r} is named twice in {text!r}.")
        try:
            cameras[name] = parse_source(source, position)
        except CameraError as e:
            raise CameraError(f"Camera {name!r}: {e}") from e
    return cameras


def open_reader(
    name: str,
    source: CameraSource,
    config: CameraConfig,
    context: Mapping[str, Any] | None = None,
) -> FrameReader:
    """A reader for camera `name`; raises CameraError when the source cannot be opened."""
    kind = SOURCE_KINDS.get(source.kind)
    if kind is None:
        raise CameraError(
            f"Camera {name!r}: unknown source kind {source.kind!r} ({source_help()})."
        )
    return _resolve(kind.opener)(name, source, config, context or {})


def _resolve(function: Any) -> Any:
    """A callable, or the one a "module:function" string names (imported now)."""
    if isinstance(function, str):
        module, _, name = function.partition(":")
        return getattr(importlib.import_module(module), name)
    return function
