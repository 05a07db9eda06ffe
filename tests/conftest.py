"""Hypothesis profiles: no deadline (JIT compile time), a bounded profile for CI; every CPU
kernel call split over the threads."""
import os
import signal

import pytest
from hypothesis import HealthCheck, settings

# A suite started in the background by a non-interactive shell inherits SIGINT ignored, and then
# neither this process nor the training runs it starts ever see a KeyboardInterrupt: the Ctrl-C
# tests need Python's own handler (which a child process gets back at exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
    from tinygrad_cnn.backends.cpu import settings
    with settings.override(part_elements=1, part_macs=1):
        yield
