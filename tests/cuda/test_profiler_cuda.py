"""tc.profiler on device "cuda": events name the device, and the time waits for the kernels."""
import tinygrad_cnn as tc
from tinygrad_cnn import profiler


def test_cuda_ops_are_recorded_on_their_device():
    a = tc.ones(2, 3, device="cuda", requires_grad=True)
    with profiler.profile() as prof:
        (a * a).sum().backward()
    assert [(e.name, e.device) for e in prof.events] == [
        ("Mul", "cuda"), ("Sum", "cuda"), ("SumBackward", "cuda"), ("MulBackward", "cuda")]
    assert all(e.shapes[0] == (2, 3) and e.ms >= 0 for e in prof.events)
