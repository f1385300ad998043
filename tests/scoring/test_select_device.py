"""select_device: auto-selection and clear errors for devices that are not there."""

from __future__ import annotations

import pytest
import torch

from facetrust.errors import ConfigError
from facetrust.scoring import select_device


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize("request_", [None, "auto", "AUTO"])
def test_auto_picks_cpu_without_a_gpu(no_gpu: None, request_: str | None) -> None:
    assert select_device(request_) == torch.device("cpu")


def test_auto_picks_cuda_when_present(one_gpu: None) -> None:
    assert select_device().type == "cuda"
    assert select_device("cuda:0") == torch.device("cuda:0")


@pytest.mark.parametrize("request_", ["cpu", " CPU ", torch.device("cpu")])
def test_cpu_is_always_available(request_: str | torch.device) -> None:
    assert select_device(request_) == torch.device("cpu")


@pytest.mark.parametrize("request_", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_without_a_gpu_is_a_clear_config_error(no_gpu: None, request_: str | torch.device) -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU is available.*device='cpu'"):
        select_device(request_)


def test_cuda_index_out_of_range(one_gpu: None) -> None:
    with pytest.raises(ConfigError, match="only 1 CUDA device"):
        select_device("cuda:3")


@pytest.mark.parametrize("request_", ["banana", "gpu", "", "meta", 3])
def test_unknown_devices_are_config_errors(request_: object) -> None:
    with pytest.raises(ConfigError):
        select_device(request_)  # type: ignore[arg-type]
