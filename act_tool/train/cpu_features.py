"""What this CPU offers training: BF16 arithmetic (AVX-512 BF16 or AMX through oneDNN)."""

from __future__ import annotations

from act_tool.train.errors import TrainError


def bf16_supported() -> bool:
    """True where oneDNN runs BF16 natively; elsewhere autocast emulates it, slower than FP32."""
    import torch

    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def require_bf16() -> None:
    if not bf16_supported():
        raise TrainError(
            "--bf16: this CPU has no native BF16 arithmetic (AVX-512 BF16 or AMX), so BF16 "
            "would be slower than FP32 here; train without --bf16"
        )
