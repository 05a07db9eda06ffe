"""kernels/cpu/spin.py: a poll returns as soon as its flag changes or its stop flag is up,
and after its polls otherwise; a published value is seen by another thread's poll."""
import threading
import time

import numpy as np

from tinygrad_cnn.kernels.cpu import spin


LONG = 1 << 26
"""Polls of a second or more (with x86's pause): a poll that ran them all fails the time
bound below rather than hanging the suite."""


def test_wait_while_returns_the_new_value_at_once():
    flags = np.zeros(16, dtype=np.int64)
    flags[0] = 5
    t = time.perf_counter()
    assert spin.wait_while(flags, 0, 4, 12, LONG) == 5        # differs already: no polling
    assert time.perf_counter() - t < 0.5


def test_wait_while_gives_up_after_its_polls():
    flags = np.zeros(16, dtype=np.int64)
    assert spin.wait_while(flags, 0, 0, 12, 0) == 0
    assert spin.wait_while(flags, 0, 0, 12, 1000) == 0


def test_stop_flag_ends_the_polls():
    flags = np.zeros(16, dtype=np.int64)
    flags[4] = 1
    t = time.perf_counter()
    assert spin.wait_while(flags, 0, 0, 4, LONG) == 0
    assert time.perf_counter() - t < 0.5


def test_publish_then_wait_sets_its_flag_before_polling():
    flags = np.zeros(16, dtype=np.int64)
    flags[0] = 3
    assert spin.publish_then_wait(flags, 8, 7, 0, 2, 12, LONG) == 3
    assert flags[8] == 7


def test_a_value_published_by_one_thread_ends_anothers_poll():
    """The poll rereads memory on every pass (an acquire load the compiler cannot hoist):
    a poll of seconds (2^28 polls) ends when another thread publishes after 50 ms, and the
    writes made before the publish are there."""
    flags = np.zeros(16, dtype=np.int64)
    payload = np.zeros(1000)

    def writer():
        time.sleep(0.05)
        payload[:] = 1.0
        spin.publish(flags, 0, 1)
    threading.Thread(target=writer).start()
    assert spin.wait_while(flags, 0, 0, 12, 1 << 28) == 1
    assert payload.sum() == 1000
