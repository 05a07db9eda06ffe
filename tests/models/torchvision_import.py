"""Import torchvision's model definitions, or None where torch or torchvision is absent.

The PyPI torchvision wheel is built against a CUDA torch. Beside the CPU torch the tests use,
its compiled extension does not register the detection operators, so ``import torchvision``
fails in torchvision._meta_registrations, which registers fake (meta) kernels for them:
"RuntimeError: operator torchvision::nms does not exist". The classification models need
none of those operators. So when (and only when) that error occurs, the half-imported
package is dropped and the import retried with an empty module standing in for
_meta_registrations; nothing else about torchvision changes.
"""
import sys
import types

_META = "torchvision._meta_registrations"


def _forget_torchvision():
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def import_torchvision_models():
    """torchvision.models, or None if torch or torchvision is not installed."""
    try:
        import torch  # noqa: F401
        import torchvision.models as tv_models
        return tv_models
    except ImportError:
        return None
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise
    _forget_torchvision()
    sys.modules[_META] = types.ModuleType(_META)
    import torchvision.models as tv_models
    return tv_models
