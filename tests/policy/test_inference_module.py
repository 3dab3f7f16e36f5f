"""The inference-only module: same numbers as LeRobot, and no VAE-encoder weight in the graph."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from act_tool.export.parity import lerobot_chunks, random_observations  # noqa: E402
from act_tool.export.pipeline import export_onnx  # noqa: E402
from act_tool.policy.checkpoint import load_checkpoint  # noqa: E402
from act_tool.policy.inference_module import ACTInference, example_inputs  # noqa: E402
from tests.tolerances import FP16_BOUND, FP32_BOUND, U16, U32, assert_within  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_module_matches_lerobot_in_torch(ckpt, order):
    module = ACTInference(ckpt, order).eval()
    observations = random_observations(ckpt, 4, seed=11)
    reference = lerobot_chunks(ckpt, observations)
    for obs, ref in zip(observations, reference, strict=True):
        frames = [
            obs.frames[k][..., ::-1] if order == "bgr" else obs.frames[k]
            for k in module.camera_keys
        ]
        inputs = [torch.from_numpy(np.ascontiguousarray(f))[None] for f in frames]
        with torch.no_grad():
            ours = module(*inputs, torch.from_numpy(obs.state)[None])[0].numpy()
        assert ours.shape == ref.shape == (10, 6)
        # Same function, other order of float32 operations (folded affines, one concatenation):
        # the FP32 parity bound of each action's std, as the export's gate holds the ONNX model.
        assert_within(ours, ref, FP32_BOUND * ckpt.stats["action"]["std"], "module vs LeRobot")
        assert np.abs(ref).max() > 1.0  # real actions, not zeros


def test_float32_rounding_gain_is_far_below_what_the_parity_bounds_allow(ckpt):
    """The premise of the parity bounds (export/pipeline.py): the module's float32 error against
    its own float64 evaluation is a small gain G times u = 2^-24; the FP32 bound allows far larger
    gains, the FP16 bound this gain even with every op rounded to FP16 (G u16)."""
    m32 = ACTInference(ckpt, "rgb").eval()
    m64 = ACTInference(ckpt, "rgb").eval().double()
    std = ckpt.stats["action"]["std"].astype(np.float64)
    gain = 0.0
    for obs in random_observations(ckpt, 4, seed=5):
        frames = [torch.from_numpy(obs.frames[k])[None] for k in m32.camera_keys]
        state = torch.from_numpy(obs.state)[None]
        with torch.no_grad():
            y32 = m32(*frames, state)[0].double().numpy()
            y64 = m64(*frames, state.double())[0].numpy()
        gain = max(gain, float((np.abs(y32 - y64) / std).max()) / U32)
    assert 0 < gain < 100, gain  # measured here: about 10
    assert 10 * 2 * gain * U32 <= FP32_BOUND  # two float32 evaluations: 10x room at least
    assert gain * U16 <= FP16_BOUND  # covered even if every op rounded to FP16


def test_policy_is_left_unchanged(ckpt):
    """Building the module (which permutes conv1 for BGR) must not touch LeRobot's policy."""
    before = ckpt.policy.model.backbone.conv1.weight.detach().clone()
    ACTInference(ckpt, "bgr")
    assert torch.equal(before, ckpt.policy.model.backbone.conv1.weight)


def test_no_vae_encoder_weight_in_graph(ckpt, tmp_path):
    module = ACTInference(ckpt, "bgr").eval()
    path = tmp_path / "act.onnx"
    export_onnx(module, example_inputs(module, ckpt), path, opset=18)
    model = onnx.load(str(path))
    inits = [onnx.numpy_helper.to_array(i) for i in model.graph.initializer]
    n_graph = sum(a.size for a in inits)

    model_t = ckpt.policy.model
    vae = [p for n, p in model_t.named_parameters() if n.startswith("vae_encoder")]
    n_vae = sum(p.numel() for p in vae)
    n_total = sum(p.numel() for p in model_t.parameters())
    n_module = sum(p.numel() for p in module.parameters()) + sum(
        b.numel() for b in module.buffers()
    )
    assert n_vae > 0
    # Everything in the graph comes from the inference path (parameters plus precomputed
    # constants; frozen batch norm folds 4 buffers into 2, so the graph holds at most that).
    assert n_graph <= n_module
    assert sum(p.numel() for p in module.parameters()) == n_total - n_vae - sum(
        p.numel()
        for n, p in model_t.named_parameters()
        if n.startswith(
            (
                "encoder_latent_input_proj.weight",
                "encoder_1d_feature_pos_embed",
                "decoder_pos_embed",
                "encoder_latent_input_proj.bias",
            )
        )
    )
    # And no VAE weight appears by value (as is or transposed).
    by_shape = {}
    for a in inits:
        by_shape.setdefault(a.shape, []).append(a)
    informative = [p.detach().numpy() for p in vae if p.detach().std() > 0]  # skip all-zero biases
    assert len(informative) > 5
    for w in informative:
        for cand in (w, w.T):
            for a in by_shape.get(cand.shape, []):
                assert not np.array_equal(a, cand), "a VAE encoder weight is in the graph"
    names = [i.name for i in model.graph.input]
    assert "action" not in names and len(names) == 3
