"""torchvision for reference checks: its import fails beside CPU-only torch ("operator
torchvision::nms does not exist", raised while registering fake kernels for its C++ ops),
so that one module is stubbed out first; the transforms do not need it."""
import sys
import types

import pytest


def torchvision_functional():
    """torchvision.transforms.functional, or skip the test when torchvision is absent."""
    pytest.importorskip("torch")
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision.transforms.functional as TVF
    except Exception as err:  # noqa: BLE001 - any import problem means: no reference here
        pytest.skip(f"torchvision cannot be imported: {err}")
    return TVF
