"""Python, extras, ONNX Runtime, the GPU, the CUDA driver and TensorRT, on machines faked here."""

from __future__ import annotations

import pytest

from act_tool import gpu
from act_tool.doctor import software
from act_tool.doctor.report import Status


def _items(section):
    return {i.label: i for i in section.items}


def test_extras_found_by_their_modules(monkeypatch):
    here = {"torch", "lerobot", "onnx", "onnxscript", "mujoco", "tensorrt_rtx"}  # no cuda.bindings
    monkeypatch.setattr(gpu, "module_installed", lambda m: m in here)
    items = _items(software.python_section())
    assert items["[export]"].status is Status.OK
    assert items["[sim]"].status is Status.OK
    assert (
        items["[rtx]"].status is Status.PROBLEM and "missing cuda.bindings" in items["[rtx]"].detail
    )
    assert items["[rtx]"].fix == gpu.INSTALL_HINTS[gpu.TENSORRT_RTX]
    assert items["[tensorrt]"].status is Status.ABSENT  # its own library is absent
    assert "pypi.nvidia.com" in items["[tensorrt]"].fix
    assert items["[openvino]"].fix == "pip install 'act-tool[openvino]'"
    assert items["core"].status is Status.OK


def test_export_on_an_old_python_says_it_needs_312(monkeypatch):
    monkeypatch.setattr(gpu, "module_installed", lambda m: False)
    section = software.python_section(version_info=(3, 10, 12))
    items = _items(section)
    assert items["Python"].detail.startswith("3.10.12")
    assert "needs Python >= 3.12" in items["[export]"].detail
    assert items["[display]"].detail.endswith("not installed")
    assert section.data["extras"]["export"]["installed"] is False


def test_no_gpu(no_gpu):
    items = _items(software.inference_section())
    assert items["GPU"].status is Status.ABSENT and items["GPU"].detail.startswith("no GPU")
    assert items["CUDA driver"].status is Status.ABSENT
    assert items["ONNX Runtime"].status is Status.OK and "CPU" in items["ONNX Runtime"].detail
    for name in ("TensorRT", "TensorRT-RTX"):
        assert items[name].status is Status.ABSENT


def _fake_machine(monkeypatch, cc, versions):
    monkeypatch.setattr(gpu, "compute_capability", lambda: cc)
    monkeypatch.setattr(gpu, "cuda_driver_version", lambda: (12, 4))
    monkeypatch.setattr(gpu, "installed_version", lambda builder: versions.get(builder, ""))
    monkeypatch.setattr(gpu, "rtx_targets", lambda: None)


def test_an_ada_gpu_with_both_builders(monkeypatch):
    _fake_machine(monkeypatch, (8, 9), {gpu.TENSORRT: "10.3.0", gpu.TENSORRT_RTX: "1.7.1"})
    section = software.inference_section()
    items = _items(section)
    assert "compute capability 8.9 (sm_89)" in items["GPU"].detail
    assert items["CUDA driver"].detail == "supports CUDA 12.4"
    assert items["TensorRT"].status is Status.OK and items["TensorRT"].detail.startswith("10.3.0")
    assert items["TensorRT-RTX"].status is Status.OK
    assert section.data["can_run"] == {gpu.TENSORRT: True, gpu.TENSORRT_RTX: True}


def test_tensorrt_rtx_on_a_hopper_gpu_says_why_not(monkeypatch):
    _fake_machine(monkeypatch, (9, 0), {gpu.TENSORRT_RTX: "1.7.1"})
    items = _items(software.inference_section())
    assert items["TensorRT-RTX"].status is Status.ABSENT
    assert "RTX-class GPUs" in items["TensorRT-RTX"].detail
    assert items["TensorRT"].detail == "not installed (extra [tensorrt])"


class _FakeDriver:
    def __init__(self, version: int, status: int = 0) -> None:
        self.version, self.status = version, status

    def cuDriverGetVersion(self, out) -> int:  # noqa: N802 - the driver's name
        out._obj.value = self.version
        return self.status


@pytest.mark.parametrize(
    ("driver", "expected"),
    [(_FakeDriver(12040), (12, 4)), (_FakeDriver(13000), (13, 0)), (_FakeDriver(0, 100), None)],
)
def test_cuda_driver_version(monkeypatch, driver, expected):
    monkeypatch.setattr(gpu, "_load_driver", lambda: driver)
    assert gpu.cuda_driver_version() == expected


def test_cuda_driver_version_without_a_driver(monkeypatch):
    monkeypatch.setattr(gpu, "_load_driver", lambda: None)
    assert gpu.cuda_driver_version() is None
