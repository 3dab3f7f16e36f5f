"""One small JSON file from the Hugging Face Hub, read before any training work starts.

`act-tool train` checks a hub dataset's `meta/info.json` and a pretrained policy's `config.json`
before it starts LeRobot, so that a typo or a dataset without the features ACT needs fails at
once rather than after a download. With HF_HUB_OFFLINE set only the local cache is read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from act_tool.errors import ActToolError

TIMEOUT_S = 10.0


def hub_offline(env: dict[str, str] | None = None) -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (1/true/yes/on), read now, not at import."""
    value = (os.environ if env is None else env).get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def read_text(repo_id: str, filename: str, repo_type: str, local_files_only: bool) -> str:
    """A small text file of a hub repo: from huggingface_hub's cache when `local_files_only`,
    else one GET with a timeout (hf_hub_download retries a dead network for ~25 s). A module
    attribute so that tests can replace it."""
    from huggingface_hub import get_session, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    if local_files_only:
        path = hf_hub_download(repo_id, filename, repo_type=repo_type, local_files_only=True)
        return Path(path).read_text()
    response = get_session().get(
        hf_hub_url(repo_id, filename, repo_type=repo_type),
        headers=build_hf_headers(),  # the user's token: private and gated repos
        timeout=TIMEOUT_S,
        follow_redirects=True,
    )
    hf_raise_for_status(response)
    return response.text


def fetch_json(
    repo_id: str,
    filename: str,
    repo_type: str,
    what: str,
    error: Callable[[str], ActToolError],
) -> dict:
    """`filename` of a hub repo, parsed; from the cache only when offline. Raises `error(msg)`
    with what to do for a missing repo or file, an uncached file offline, or no network.
    `what` names the repo in messages ("hub dataset lerobot/pusht")."""
    import httpx
    from huggingface_hub.errors import (
        HFValidationError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    offline = hub_offline()
    try:
        text = read_text(repo_id, filename, repo_type, offline)
    except HFValidationError as e:
        raise error(f"{what}: '{repo_id}' is not a valid hub repo id ({e})") from e
    except RepositoryNotFoundError as e:
        raise error(
            f"{what} does not exist on the Hugging Face Hub (check the spelling; a private or "
            "gated repo needs `hf auth login` first)"
        ) from e
    except RemoteEntryNotFoundError as e:
        raise error(f"{what} has no {filename}: it is not a LeRobot {repo_type}") from e
    except LocalEntryNotFoundError as e:
        raise error(
            f"{what} is not in the local cache and HF_HUB_OFFLINE is set: download it on a "
            "connected machine first, or unset HF_HUB_OFFLINE"
        ) from e
    except (httpx.TransportError, OSError) as e:  # no network, a timeout, an HTTP error status
        raise error(
            f"cannot read {filename} of {what} from the Hugging Face Hub ({e}); check the "
            "network connection and the name"
        ) from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{filename} of {what} cannot be read as JSON: {e}") from e
