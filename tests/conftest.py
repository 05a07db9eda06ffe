"""Hypothesis profiles: no deadline (JIT compile time), a bounded profile for CI; every CPU
kernel call split over the threads."""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _split_every_kernel_call(monkeypatch):
    """The CPU backend hands a thread its own range only when the range is worth ~45 us of
    hand-off; the tests' small arrays would never be split. Here every call is split as
    finely as the threads allow, so the ranges' edges are tested everywhere."""
    from tinygrad_cnn.backends import cpu
    monkeypatch.setattr(cpu, "_PART_ELEMENTS", 1)
    monkeypatch.setattr(cpu, "_PART_MACS", 1)
