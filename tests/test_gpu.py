"""act_tool.gpu: the one compute-capability probe and the TensorRT names (no GPU needed)."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from act_tool import gpu


def fake_cuda_bindings(monkeypatch, count_error: int, cc=(8, 7)) -> None:
    """cuda.bindings.runtime answering cudaGetDeviceCount with `count_error` (0: success)."""
    rt = types.ModuleType("cuda.bindings.runtime")
    rt.cudaError_t = types.SimpleNamespace(cudaSuccess=0)
    rt.cudaDeviceAttr = types.SimpleNamespace(
        cudaDevAttrComputeCapabilityMajor="major", cudaDevAttrComputeCapabilityMinor="minor"
    )
    rt.cudaGetDeviceCount = lambda: (count_error, 1)
    rt.cudaDeviceGetAttribute = lambda attr, dev: (0, cc[0] if attr == "major" else cc[1])
    package = types.ModuleType("cuda.bindings")
    package.runtime = rt
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", package)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)


def test_gpu_found_without_torch_through_cuda_bindings(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # torch cannot be imported
    monkeypatch.setattr(gpu, "_cc_from_driver", lambda: None)
    fake_cuda_bindings(monkeypatch, 0, (8, 7))
    assert gpu.compute_capability() == (8, 7)


def test_gpu_found_through_the_driver_when_cuda_bindings_cannot(monkeypatch):
    """Bindings newer than the driver (cudaErrorInsufficientDriver) or absent: ask libcuda."""
    monkeypatch.setattr(gpu, "_cc_from_driver", lambda: (8, 7))
    fake_cuda_bindings(monkeypatch, 35)
    assert gpu.compute_capability() == (8, 7)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    assert gpu.compute_capability() == (8, 7)
    monkeypatch.setattr(gpu, "_cc_from_driver", lambda: None)
    assert gpu.compute_capability() is None


def test_gpu_probe_answers_without_raising() -> None:
    cc = gpu.compute_capability()
    assert cc is None or (len(cc) == 2 and cc[0] >= 3)


@pytest.mark.parametrize(
    ("text", "cc"),
    [
        ("sm_89", (8, 9)),
        ("sm89", (8, 9)),
        ("SM75", (7, 5)),
        ("8.6", (8, 6)),
        ("sm_121", (12, 1)),
        (" sm_120 ", (12, 0)),
        ("sm_", None),
        ("sm_8", None),
        ("portable", None),
        ("8.", None),
        ("8.10", None),
    ],
)
def test_sm_names_parse_and_format(text, cc):
    assert gpu.parse_cc(text) == cc
    if cc is not None:
        assert gpu.parse_cc(gpu.cc_name(cc)) == cc


def test_installed_builders_enterprise_first(monkeypatch) -> None:
    monkeypatch.setattr(gpu, "module_installed", lambda m: m in {"tensorrt", "tensorrt_rtx"})
    assert gpu.installed_builders() == ["tensorrt", "tensorrt-rtx"]
    monkeypatch.setattr(gpu, "module_installed", lambda m: False)
    assert gpu.installed_builders() == []
    assert gpu.installed_version("tensorrt-rtx") == ""


def test_every_builder_has_a_module_an_extra_and_a_hint():
    for builder in gpu.BUILDERS:
        extra = gpu.EXTRAS[builder]
        assert gpu.MODULES[builder] and f"act-tool[{extra}]" in gpu.INSTALL_HINTS[builder]
    assert set(gpu.RTX_PORTABLE) <= set(gpu.RTX_SUPPORTED)


def test_installed_rtx_targets_are_read_from_its_enum():
    if not importlib.util.find_spec("tensorrt_rtx"):
        pytest.skip("tensorrt_rtx is not installed here")
    targets = gpu.rtx_targets()
    assert targets and (8, 9) in targets and all(len(t) == 2 for t in targets)


def test_shared_logger_is_one_per_module_and_keeps_warnings_and_worse():
    class ILogger:
        def __init__(self) -> None:
            pass

    fake = types.SimpleNamespace(__name__="fake_trt_for_logger_test", ILogger=ILogger)
    logger = gpu.shared_logger(fake)
    assert gpu.shared_logger(fake) is logger
    for severity, msg in ((1, "an error"), (2, "a warning"), (3, "info"), (2, gpu._NOISE[0])):
        logger.log(severity, msg)
    assert list(logger.messages) == [(1, "an error"), (2, "a warning")]
