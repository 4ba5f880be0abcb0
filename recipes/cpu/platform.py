"""verl's platform for a machine with no accelerator: `VERL_PLATFORM=cpu`.

verl asks its platform for a `torch.<device>`-style module (`get_torch_device()`) and calls CUDA-shaped
functions on it (memory stats, RNG state, streams, `empty_cache`, `get_device_name` for the flops counter).
`torch.cpu` answers some of these; `CPUDeviceModule` answers the rest with what is true on a CPU (nothing to
free, host memory as device memory, the global RNG). Communication is gloo; the Ray resource name stays
"GPU" because verl's resource pools always ask for GPUs: a CPU run declares logical ones
(`+ray_kwargs.ray_init.num_gpus=N`).
"""

from __future__ import annotations

import contextlib
import os
import platform as host_platform
import types

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

PLATFORM_NAME = "cpu"


def _host_memory() -> tuple[int, int]:
    """(free, total) bytes of host memory, what `mem_get_info` means on a CPU."""
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.available), int(vm.total)
    except ImportError:  # psutil ships with ray[default]; this is only a fallback
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        free = os.sysconf("SC_AVPHYS_PAGES")
        return int(free * size), int(pages * size)


class CPUDeviceModule(types.ModuleType):
    """`torch.cpu` plus the `torch.cuda`-style functions verl calls on its device module."""

    def __init__(self) -> None:
        super().__init__("verl_cpu_device")

    def __getattr__(self, name: str):
        return getattr(torch.cpu, name)  # Stream, stream, current_stream, Event, synchronize, device_count, ...

    @staticmethod
    def current_device() -> str:
        return "cpu"  # what `.to()` and `torch.device()` accept

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def set_device(device=None) -> None:
        return None

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def ipc_collect() -> None:
        return None

    @staticmethod
    def set_per_process_memory_fraction(fraction: float, device=None) -> None:
        return None

    @staticmethod
    def mem_get_info(device=None) -> tuple[int, int]:
        return _host_memory()

    @staticmethod
    def memory_allocated(device=None) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    @staticmethod
    def reset_peak_memory_stats(device=None) -> None:
        return None

    @staticmethod
    def get_rng_state(device=None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device=None) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def get_device_name(device=None) -> str:
        return f"CPU ({host_platform.processor() or host_platform.machine()})"

    @staticmethod
    def get_device_properties(device=None):
        free, total = _host_memory()
        return types.SimpleNamespace(name="cpu", total_memory=total, major=0, minor=0, multi_processor_count=os.cpu_count())


_DEVICE_MODULE = CPUDeviceModule()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """Selected only by `VERL_PLATFORM=cpu` (never auto-detected: a GPU machine must never land here)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return _DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM_NAME

    def current_device(self) -> str:  # type: ignore[override]  # verl passes it to .to() / torch.device()
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index=None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0):
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"  # Ray sets it for the logical GPUs; nothing reads it on a CPU

    @contextlib.contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self):
        return None
