"""MkDocs hooks for the documentation site (mkdocs.yml: `hooks: [scripts/mkdocs_hooks.py]`).

- The command reference (`reference/*.md`) is generated from the command line's own definitions
  at every build (act_tool.cli_reference), so a new option needs no documentation step.
- The recorded benchmark results (benchmarks/README.md, benchmarks/results/*.md and their
  plots) and the shipped policy's card (models/act_so101_twin/README.md) are pages of the site
  as they are in the repository. Their links to files outside the site become plain text
  naming the file.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the act_tool of this checkout, also under the mkdocs script
    sys.path.insert(0, str(ROOT))

# repository path -> site path, for the files taken into the site as they are
INCLUDED: dict[str, str] = {"benchmarks/README.md": "benchmarks/index.md"}
for _path in sorted((ROOT / "benchmarks" / "results").glob("*")):
    if _path.suffix in (".md", ".png", ".json"):
        INCLUDED[f"benchmarks/results/{_path.name}"] = f"benchmarks/results/{_path.name}"
for _card in sorted((ROOT / "models").glob("*/README.md")):
    INCLUDED[f"models/{_card.parent.name}/README.md"] = f"models/{_card.parent.name}.md"
# a folder named in a link stands for its README
FOLDERS = {str(Path(k).parent): v for k, v in INCLUDED.items() if k.endswith("/README.md")}
SOURCE_OF = {site: repo for repo, site in INCLUDED.items()}
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def on_files(files: Files, config) -> Files:
    from act_tool.cli_reference import reference_pages

    for name, text in reference_pages().items():
        files.append(File.generated(config, f"reference/{name}", content=text))
    for repo_path, site_path in INCLUDED.items():
        files.append(File.generated(config, site_path, abs_src_path=str(ROOT / repo_path)))
    return files


def _rewrite(match: re.Match, repo_page: str, site_page: str) -> str:
    bang, text, target = match.groups()
    if re.match(r"[a-z]+:", target) or target.startswith("#"):
        return match.group(0)
    path, _, anchor = target.partition("#")
    repo_target = posixpath.normpath(posixpath.join(posixpath.dirname(repo_page), path))
    site_target = INCLUDED.get(repo_target) or FOLDERS.get(repo_target.rstrip("/"))
    if site_target is None:  # outside the site: name the file instead of linking it
        return f"{text} (`{repo_target}` in the repository)" if not bang else text
    rel = posixpath.relpath(site_target, posixpath.dirname(site_page))
    return f"{bang}[{text}]({rel}{'#' + anchor if anchor else ''})"


def on_page_markdown(markdown: str, page, config, files) -> str:
    site_page = page.file.src_uri
    repo_page = SOURCE_OF.get(site_page)
    if repo_page is None:
        return markdown
    return LINK.sub(lambda m: _rewrite(m, repo_page, site_page), markdown)
