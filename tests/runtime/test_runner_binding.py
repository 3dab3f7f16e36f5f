"""Runner.bind_input: ONNX Runtime (CPU) and PyTorch (CPU) read the caller's array in place; the
base copies it. Same outputs as writing into `inputs`, on random frames: bit for bit, since the
same session runs the same kernels on the same values (where they live does not change the
arithmetic: the first op of the graph turns the uint8 frames into the runner's own tensors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_tool.runtime.runners import ACTION, STATE, RunnerError, RunnerOptions, open_runner


def random_inputs(runner, seed: int) -> dict[str, np.ndarray]:
    """Fresh arrays shaped like the runner's inputs, random content (frames and state)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, buf in runner.inputs.items():
        if buf.dtype == np.uint8:
            out[name] = rng.integers(0, 256, buf.shape, dtype=np.uint8)
        else:
            out[name] = rng.uniform(-30, 30, buf.shape).astype(buf.dtype)
    return out


def frame_names(runner) -> list[str]:
    return [n for n, b in runner.inputs.items() if b.dtype == np.uint8]


def copied_result(runner, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """The action for `feeds` written into the runner's own buffers (the path without binding)."""
    for name, value in feeds.items():
        np.copyto(runner.inputs[name], value)
    return runner.infer()[ACTION].copy()


def check_binding_in_place(runner) -> None:
    assert runner.binds_without_copy
    own = dict(runner.inputs)
    a, b = random_inputs(runner, 1), random_inputs(runner, 2)
    expected_a, expected_b = copied_result(runner, a), copied_result(runner, b)
    assert not np.allclose(expected_a, expected_b), "different frames, different actions"
    # Frames bound (not copied), the state written into the runner's buffer as before.
    np.copyto(runner.inputs[STATE], a[STATE])
    for name in frame_names(runner):
        runner.bind_input(name, a[name])
        assert runner.inputs[name] is a[name], "inputs names what the next infer reads"
    np.testing.assert_array_equal(runner.infer()[ACTION], expected_a)
    # In place: the bound arrays' new content is what the next infer reads (nothing copied).
    for name in frame_names(runner):
        np.copyto(a[name], b[name])
    np.copyto(runner.inputs[STATE], b[STATE])
    np.testing.assert_array_equal(runner.infer()[ACTION], expected_b)
    # Rebinding switches arrays; binding the runner's own buffers back restores the plain path.
    c = random_inputs(runner, 3)
    for name in frame_names(runner):
        runner.bind_input(name, c[name])
    np.copyto(runner.inputs[STATE], c[STATE])
    got_c = runner.infer()[ACTION].copy()
    for name in frame_names(runner):
        runner.bind_input(name, own[name])
        assert runner.inputs[name] is own[name]
    np.testing.assert_array_equal(got_c, copied_result(runner, c))
    # The state (never bound) can be bound too.
    runner.bind_input(STATE, a[STATE])
    assert runner.inputs[STATE] is a[STATE]


def test_onnxruntime_binds_in_place(tiny_onnx: Path):
    with open_runner(tiny_onnx, options=RunnerOptions(device="cpu")) as runner:
        check_binding_in_place(runner)


def test_torch_cpu_binds_in_place(tiny_checkpoint: Path):
    with open_runner(tiny_checkpoint, options=RunnerOptions(device="cpu")) as runner:
        check_binding_in_place(runner)


def test_base_binding_copies(tiny_onnx: Path):
    """A backend that does not read in place (TensorRT, ONNX Runtime on CUDA) gets a copy:
    `inputs` stay its own buffers and a later change to the caller's array is not seen."""
    with open_runner(tiny_onnx, options=RunnerOptions(device="cpu")) as runner:
        runner.binds_without_copy = False  # the base behaviour, on this instance
        a, b = random_inputs(runner, 1), random_inputs(runner, 2)
        expected_a = copied_result(runner, a)
        own = dict(runner.inputs)
        for name, value in a.items():
            runner.bind_input(name, value)
            assert runner.inputs[name] is own[name]
            np.copyto(value, b[name])  # after binding: not seen by a copying backend
        np.testing.assert_array_equal(runner.infer()[ACTION], expected_a)


def test_bind_input_refuses_wrong_arrays(tiny_onnx: Path):
    runner = open_runner(tiny_onnx)
    name = frame_names_of_spec(runner)[0]
    with pytest.raises(RunnerError, match="not open"):
        runner.bind_input(name, np.zeros((1, 4, 4, 3), np.uint8))
    with runner:
        shape = runner.inputs[name].shape
        with pytest.raises(RunnerError, match=r"needs a C-contiguous uint8\[1, "):
            runner.bind_input(name, np.zeros(shape, np.float32))
        with pytest.raises(RunnerError, match="needs a C-contiguous"):
            runner.bind_input(name, np.zeros(shape[:-2] + (shape[-2] + 1, 3), np.uint8))
        wide = np.zeros(shape[:-1] + (6,), np.uint8)
        with pytest.raises(RunnerError, match="not contiguous"):
            runner.bind_input(name, wide[..., :3])
        with pytest.raises(RunnerError, match="no input 'nope'"):
            runner.bind_input("nope", np.zeros(shape, np.uint8))


def frame_names_of_spec(runner) -> list[str]:
    return [t.name for t in runner.input_specs if t.dtype == "uint8"]


def test_rebinding_known_arrays_allocates_nothing(tiny_onnx: Path):
    """Three rotating frame buffers per camera (as a camera hands them out), bound and run 200
    times: no memory kept once each has been seen."""
    import gc
    import tracemalloc

    with open_runner(tiny_onnx, options=RunnerOptions(device="cpu", threads=1)) as runner:
        names = frame_names(runner)
        rotation = [random_inputs(runner, seed) for seed in range(3)]

        def run(i: int) -> None:
            feeds = rotation[i % 3]
            for name in names:
                runner.bind_input(name, feeds[name])
            runner.infer()

        for i in range(20):
            run(i)
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for i in range(200):
                run(i)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
    assert grown < 1024, f"{grown} bytes kept over 200 bound queries"


def query_random_combinations(runner, names, pools, expected, queries: int, seed: int) -> None:
    """Bind random combinations of the two cameras' buffers; each query gives its expected
    action."""
    rng = np.random.default_rng(seed)
    for _ in range(queries):
        i, j = (int(x) for x in rng.integers(0, 3, 2))
        runner.bind_input(names[0], pools[names[0]][i])
        runner.bind_input(names[1], pools[names[1]][j])
        np.testing.assert_array_equal(runner.infer()[ACTION], expected[i, j])


def test_onnxruntime_combinations_of_rotating_buffers(tiny_onnx: Path, monkeypatch):
    """Cameras rotate three buffers each: every combination gets its own IO binding, made once;
    each query reads exactly the arrays bound for it, also after the kept bindings are dropped."""
    from act_tool.runtime.runners import onnxruntime_runner

    monkeypatch.setattr(onnxruntime_runner, "BINDINGS_KEPT", 4)  # fewer than the 9 combinations
    with open_runner(tiny_onnx) as runner:
        names = frame_names(runner)
        assert len(names) == 2
        pools = {
            n: [random_inputs(runner, 10 + 3 * i + k)[n] for k in range(3)]
            for i, n in enumerate(names)
        }
        expected = {}
        for i in range(3):
            for j in range(3):
                feeds = {names[0]: pools[names[0]][i], names[1]: pools[names[1]][j]}
                expected[i, j] = copied_result(runner, feeds)
        made = []
        original = runner._make_binding

        def counting():
            made.append(1)
            return original()

        monkeypatch.setattr(runner, "_make_binding", counting)
        query_random_combinations(runner, names, pools, expected, queries=40, seed=0)
        assert 9 <= len(made) < 40, "a binding per new combination, reused while kept"


def test_onnxruntime_prepares_every_combination_up_front(tiny_onnx: Path, monkeypatch):
    """prepare_inputs with each camera's three buffers: all nine bindings exist before the first
    query, no query makes one, each reads its own arrays, and what the next infer reads (the
    runner's own buffers) is unchanged by preparing."""
    with open_runner(tiny_onnx) as runner:
        made = check_prepared_combinations(runner, monkeypatch, "_make_binding")
        assert made == [], "every combination was bound before the first query"


def check_prepared_combinations(runner, monkeypatch, make: str) -> list:
    """prepare_inputs with each of two cameras' three buffers, then 30 queries of random
    combinations, each checked against a copied run; returns what `runner.<make>` (the runner's
    per-buffer setup, patched) was called with during the queries."""
    names = frame_names(runner)
    assert len(names) == 2
    pools = {
        n: [random_inputs(runner, 40 + 3 * i + k)[n] for k in range(3)] for i, n in enumerate(names)
    }
    own = random_inputs(runner, 39)
    before = copied_result(runner, own)
    with pytest.raises(RunnerError, match="needs a C-contiguous"):
        runner.prepare_inputs({names[0]: [np.zeros((1, 2, 2, 3), np.uint8)]})
    runner.prepare_inputs(pools)
    assert all(runner.inputs[n] is not p for n in names for p in pools[n])
    np.testing.assert_array_equal(runner.infer()[ACTION], before)
    expected = {}
    for i in range(3):
        for j in range(3):
            feeds = {names[0]: pools[names[0]][i].copy(), names[1]: pools[names[1]][j].copy()}
            expected[i, j] = copied_result(runner, {**own, **feeds})
    made: list = []
    monkeypatch.setattr(runner, make, lambda *a: made.append(a))
    query_random_combinations(runner, names, pools, expected, queries=30, seed=1)
    return made
