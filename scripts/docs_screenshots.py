"""Look at the built documentation site in a real browser: headless Chromium opens pages of the
site (served over HTTP from this process) and saves a screenshot of each.

    python scripts/docs_screenshots.py                       # builds the site into site/ first
    python scripts/docs_screenshots.py --site site --out docs/img index.html guides/twin-eval/

Needs Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; `--chromium PATH` otherwise)
and the `docs` extra to build. The screenshots in docs/img (site_home.png, site_guide.png) were
made by this script.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = {"": "site_home.png", "guides/twin-eval/": "site_guide.png"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


def find_chromium(given: str | None) -> str:
    for name in [given] if given else ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    sys.exit("no Chromium found: sudo apt-get install chromium, or pass --chromium PATH")


def build(site: Path) -> None:
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)]
    subprocess.run(cmd, cwd=ROOT, check=True)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def screenshot(chromium: str, url: str, out: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        cmd += [f"--screenshot={out}", url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not out.is_file():
        sys.exit(f"Chromium could not take {url}:\n{result.stderr[-2000:]}")
    print(f"{out} ({out.stat().st_size // 1024} kB) <- {url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="site paths (default: the home page, one guide)")
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--chromium")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    pages = {p: Path(p.strip("/").replace("/", "_") or "index").stem + ".png" for p in args.pages}
    pages = pages or DEFAULT_PAGES
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or Path(tmp) / "site"
        if args.site is None:
            build(site)
        server, base = serve(site)
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            for page, name in pages.items():
                screenshot(chromium, base + page, args.out / name, args.width, args.height)
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
