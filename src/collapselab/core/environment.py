"""What a run records about where it ran: versions, host, git commit, device."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("collapselab", "numpy", "scipy", "pandas", "torch", "scikit-learn", "matplotlib", "pydantic", "ray")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the source tree collapselab is imported from, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def device_description(device: str) -> str:
    if device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
        except Exception:  # a description must never fail a run
            pass
    return f"{device} ({platform.processor() or platform.machine()})"


def cpu_description(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """The CPU model, its core count and torch's vectorised kernel level (``AVX2``, ``AVX512``, ...).

    The same code, seeds and preset give slightly different numbers on CPUs whose kernels differ (training
    amplifies last-bit differences), so a run records which CPU and kernels produced it."""
    model = ""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": model or platform.processor() or platform.machine(), "cpu_count": str(os.cpu_count() or "")}
    try:
        import torch

        out["torch_cpu_kernels"] = torch.backends.cpu.get_cpu_capability()
    except Exception:  # a description must never fail a run
        pass
    return out


def run_info(device: str, backend: str) -> dict:
    versions = package_versions()
    return {"package_version": versions.get("collapselab"), "git_commit": git_commit(),
            "host": socket.gethostname(), "device": device_description(device), "backend": backend,
            "environment": {**versions, "platform": platform.platform(), **cpu_description()}}
