"""The file that marks a run trained with a frozen backbone (`act-tool train --freeze-backbone`),
so `--resume` continues it in the same loop. Kept apart so the CLI can check it without torch."""

FROZEN_MARKER = "act_tool_frozen.json"
