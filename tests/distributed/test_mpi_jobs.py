"""Jobs of two MPI ranks, started with mpiexec: training equals one process, resume works,
the checks in mpi_checks.py pass, and a failing rank ends the job.

They need mpi4py and mpiexec (the ``mpi`` extra); without them they skip, except in CI
(CI=true), where a missing MPI fails. Each rank runs with NUMBA_NUM_THREADS=1, and
MPIEXEC_TIMEOUT bounds every job, so a hang fails instead of blocking the suite.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
JOB_TIMEOUT_S = 240


def _mpiexec():
    """The mpiexec beside this Python (a virtualenv's mpich wheel), else the one on PATH."""
    local = Path(sys.executable).with_name("mpiexec")
    return str(local) if local.exists() else shutil.which("mpiexec")


def _have_mpi():
    try:
        import mpi4py  # noqa: F401  (the package only: MPI starts with mpi4py.MPI)
    except ImportError:
        return False
    return _mpiexec() is not None


if not _have_mpi():
    if os.environ.get("CI"):
        pytest.fail("CI must run the MPI tests: install the mpi extra (pip install -e '.[mpi]')",
                    pytrace=False)
    pytest.skip("needs mpi4py and mpiexec: pip install -e '.[mpi]'", allow_module_level=True)


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1",
               MPIEXEC_TIMEOUT=str(JOB_TIMEOUT_S))
    for name in [k for k in env if k.startswith(("PMI_", "OMPI_", "PMIX_", "MPI_LOCAL"))]:
        del env[name]     # a pytest run inside an MPI job must not pass its rank on
    return env


def _run(args, ranks=None):
    """Run ``python ARGS`` (under ``mpiexec -n ranks`` when given); the CompletedProcess."""
    cmd = [sys.executable, *args]
    if ranks:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=JOB_TIMEOUT_S + 60)


def _train(out, batch_size, epochs, ranks=None, resume=False, plots=True):
    args = ["-m", "tinygrad_cnn", "train", "--model", "simple-cnn", "--optimizer", "sgd",
            "--lr", "0.01", "--batch-size", str(batch_size), "--dataset", "mnist-sample",
            "--epochs", str(epochs), "--steps-per-epoch", "4", "--seed", "11",
            "--out", str(out), "--no-progress"] + (["--resume"] if resume else []) \
        + ([] if plots else ["--no-plots"])
    done = _run(args, ranks)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_two_ranks_train_the_same_weights_as_one_process_and_resume(tmp_path):
    """2 ranks x batch 50 = 1 process x batch 100 (SGD, same seed), through a --resume."""
    _train(tmp_path / "one", 100, epochs=2)
    printed = _train(tmp_path / "two", 50, epochs=1, ranks=2, plots=False)  # the resume draws them
    assert "distributed: 2 MPI ranks" in printed and printed.count("epoch 1:") == 1
    printed = _train(tmp_path / "two", 50, epochs=2, ranks=2, resume=True)
    assert "resuming from" in printed and "epoch 2:" in printed and "epoch 1:" not in printed
    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    for epoch in (1, 2):
        a = tc.load(one / f"checkpoint_epoch{epoch:03d}.tgc")
        b = tc.load(two / f"checkpoint_epoch{epoch:03d}.tgc")
        assert a["model"].keys() == b["model"].keys()
        for key in a["model"]:      # the same up to rounding: the gradients are summed in
            # another order (two halves, then averaged), and a ReLU input within rounding of
            # 0 can turn the other way; 1e-6 off on weights of 0.01-0.1 after 8 steps
            np.testing.assert_allclose(np.asarray(b["model"][key]), np.asarray(a["model"][key]),
                                       rtol=1e-4, atol=1e-5, err_msg=f"epoch {epoch} {key}")
        assert a["loader"]["generator"] == b["loader"]["generator"]
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert b["history"][-1][key] == pytest.approx(a["history"][-1][key], rel=1e-4)


def test_collectives_ddp_syncbatchnorm_and_sampler_across_two_ranks():
    done = _run([str(HERE / "mpi_checks.py")], ranks=2)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    assert done.stdout.count("ok ") == 9


def test_a_rank_that_fails_mid_epoch_ends_the_job(tmp_path):
    """Rank 1 raises at its 3rd step while rank 0 waits in an Allreduce: the job ends non-zero
    with rank 1's error, well before MPIEXEC_TIMEOUT (a hang would show as a timeout)."""
    done = _run([str(HERE / "failing_rank.py"), "train", "--model", "simple-cnn", "--dataset",
                 "mnist-sample", "--batch-size", "20", "--epochs", "1", "--steps-per-epoch",
                 "10", "--out", str(tmp_path / "run"), "--no-progress", "--no-plots"], ranks=2)
    assert done.returncode not in (0, None), done.stdout + done.stderr
    assert "simulated failure on rank 1 at step 3" in done.stderr
    assert "rank 1 of 2 failed; aborting the MPI job" in done.stderr
    assert "TIMED OUT" not in done.stdout + done.stderr
    assert not (tmp_path / "run" / "checkpoint_epoch001.tgc").exists()


def test_ctrl_c_ends_every_rank_and_keeps_the_checkpoints(tmp_path):
    """SIGINT to mpiexec (Hydra passes it to the ranks): the job ends with status 130 instead
    of one rank exiting while the other waits in an Allreduce; every checkpoint loads."""
    import signal
    import time

    out = tmp_path / "run"
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "tinygrad_cnn", "train", "--model",
           "lenet5", "--dataset", "mnist-sample", "--epochs", "1000", "--batch-size", "20",
           "--steps-per-epoch", "3", "--out", str(out), "--no-progress", "--no-plots"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while len(list(out.glob("checkpoint_epoch*.tgc"))) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=JOB_TIMEOUT_S)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted; aborting every rank" in stderr
    for path in sorted(out.glob("checkpoint_epoch*.tgc")):
        assert tc.load(path)["format"] == "tinygrad_cnn.train/1"
