"""A kernel's disk cache is stamped with every source file under kernels/ (kernels/jit.py):
numba's own stamp is the kernel's file alone, and a kernel inlines the LLVM IR of
intrinsics defined in other files, so an edit to one of those must make the cached machine
code stale."""
import shutil

from tinygrad_cnn.kernels import jit
from tinygrad_cnn.kernels.cpu import conv_vector, nhwc


def test_every_kernel_cache_is_stamped_with_the_kernel_sources():
    for kernel in (nhwc.max_pool2d_forward_nhwc, conv_vector.conv2d_forward_vector_tiles,
                   jit.fill):
        own, sources = kernel._cache._cache_file._source_stamp
        assert sources == jit.kernel_sources_hash()
        assert own and own != sources


def test_an_edit_to_an_intrinsic_file_changes_the_stamp(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(jit.KERNELS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    stamp = jit.kernel_sources_hash.__wrapped__             # uncached: the files change
    assert stamp(copy) == jit.kernel_sources_hash()
    intrinsic = copy / "cpu" / "window_reduce.py"
    intrinsic.write_text(intrinsic.read_text() + "\n# edited\n")
    edited = stamp(copy)
    assert edited != jit.kernel_sources_hash()
    (copy / "cpu" / "new_helper.py").write_text("")
    assert stamp(copy) != edited                             # a new file counts too
