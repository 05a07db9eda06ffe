"""The training loop behind ``python -m tinygrad_cnn train``: fit, train_epoch, evaluate.

Which data a run uses is train_data.py's job; what it writes and resumes from (checkpoints,
metrics, weights) is train_records.py's."""
import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.backends import cuda_unavailable_reason
from tinygrad_cnn.distributed.training import setup_run
from tinygrad_cnn.models import GoogLeNetOutputs, get_model
from tinygrad_cnn.train_data import load_datasets
from tinygrad_cnn.train_guards import (CompileNotice, NonFiniteError, NonFiniteStep, TrainError,
                                       first_nonfinite_grad)
from tinygrad_cnn.train_records import (checkpoint_path, latest_checkpoint, load_checkpoint,
                                        save_checkpoint, write_metrics, write_weights)


@dataclass
class TrainConfig:
    """Everything a run depends on; saved in each checkpoint and in metrics.json."""
    model: str = "simple-cnn"
    dataset: str = "mnist"
    epochs: int = 15
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    seed: int = 777
    device: str = "cpu"
    out: str = "runs/simple-cnn"
    data_dir: str = None
    steps_per_epoch: int = None       # cut epochs short (quick demos and tests)
    resume: bool = False
    progress: bool = True
    plots: bool = True
    nonfinite: str = "stop"           # a NaN/inf loss or gradient: "stop" the run, or "skip" the step


# ---- optimisation ------------------------------------------------------------------
def make_optimizer(name, params, lr):
    """An optimizer by its command-line name: adam, adamw or sgd (momentum 0.9)."""
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "adamw":
        return optim.AdamW(params, lr=lr)
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; choose adam, adamw or sgd")


def training_loss(output, labels):
    """(logits, loss) of a training forward. GoogLeNet's training output also carries its
    auxiliary logits: loss + 0.3 * (aux1 + aux2), torchvision's reference recipe."""
    if isinstance(output, GoogLeNetOutputs):
        aux = F.cross_entropy(output.aux_logits1, labels) + F.cross_entropy(output.aux_logits2,
                                                                            labels)
        return output.logits, F.cross_entropy(output.logits, labels) + aux * 0.3
    return output, F.cross_entropy(output, labels)


def train_step(model, opt, images, labels, check_finite=False):
    """One forward, loss, backward and update; returns (loss, correct predictions).

    With check_finite, a NaN/inf loss or gradient raises NonFiniteStep before the update."""
    opt.zero_grad()
    logits, loss = training_loss(model(images), labels)
    value = loss.item()
    loss.backward()   # before any check: under mpiexec every rank's backward joins the Allreduce
    if check_finite:
        if not math.isfinite(value):
            raise NonFiniteStep("the loss", value)
        bad = first_nonfinite_grad(model.named_parameters())
        if bad is not None:
            raise NonFiniteStep(f"the gradient of {bad[0]}", bad[1])
    opt.step()
    correct = int((logits.numpy().argmax(axis=1) == labels.numpy()).sum())
    return value, correct


@tc.no_grad()
def evaluate(model, loader, device="cpu"):
    """(mean loss, accuracy) over a loader, in eval mode and without recording a graph."""
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += int((logits.numpy().argmax(axis=1) == labels.numpy()).sum())
        seen += labels.shape[0]
    model.train(was_training)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def _progress(iterable, total, desc, enabled):
    """A tqdm bar when tqdm is installed and wanted, else the plain iterable."""
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(iterable, total=total, desc=desc, unit="batch", leave=True,
                        dynamic_ncols=True, file=sys.stdout)
        except ImportError:
            pass
    return iterable


def train_epoch(model, opt, loader, epoch, config, notice=None, log=print):
    """One pass over the training data; returns (mean loss, accuracy, images/s, seconds,
    skipped steps). A non-finite loss or gradient raises NonFiniteError, or skips the step
    when config.nonfinite == "skip"."""
    model.train()
    steps = len(loader) if config.steps_per_epoch is None else min(len(loader), config.steps_per_epoch)
    bar = _progress(iter(loader), steps, f"epoch {epoch}/{config.epochs}", config.progress)
    total_loss, correct, seen, skipped, start = 0.0, 0, 0, 0, time.perf_counter()
    for step, (images, labels) in enumerate(bar):
        if step >= steps:
            break
        images, labels = images.to(config.device), labels.to(config.device)
        try:
            with notice.around(bar) if notice else contextlib.nullcontext():
                loss, hits = train_step(model, opt, images, labels, check_finite=True)
        except NonFiniteStep as bad:
            if config.nonfinite != "skip":
                raise NonFiniteError(epoch, step + 1, str(bad)) from None
            skipped += 1
            log(f"epoch {epoch}, step {step + 1}: skipped ({bad})")
            continue
        n = labels.shape[0]
        total_loss, correct, seen = total_loss + loss * n, correct + hits, seen + n
        rate = seen / (time.perf_counter() - start)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}",
                            img_s=f"{rate:,.0f}")
    if hasattr(bar, "close"):
        bar.close()
    if skipped and not seen:
        raise NonFiniteError(epoch, None, f"all {skipped} steps had a non-finite loss or "
                             f"gradient and were skipped", skip_hint=False)
    elapsed = time.perf_counter() - start
    return total_loss / max(seen, 1), correct / max(seen, 1), seen / elapsed, elapsed, skipped


def fit(config, log=print):
    """Train ``config.model`` on ``config.dataset``; returns the per-epoch history."""
    run = setup_run()  # one process, or one rank of an mpiexec job (distributed/training.py)
    log, config = run.log(log), run.config(config)
    _check_run(config)
    tc.manual_seed(config.seed)
    record = {}
    train_set, test_set = load_datasets(config.dataset, config.data_dir, log, record=record)
    model = get_model(config.model).to(config.device)
    net = run.wrap(model)
    opt = make_optimizer(config.optimizer, model.parameters(), config.lr)
    train_loader = run.train_loader(train_set, config.batch_size, config.seed)
    test_loader = run.test_loader(test_set, 1000)
    start_epoch, history = 0, []
    last = run.agree(latest_checkpoint(config.out))
    if last is not None and not config.resume:
        raise FileExistsError(f"{config.out} already holds checkpoints (latest {last.name}): "
                              f"resume that run, or choose another output directory")
    if last is not None:
        start_epoch, history = load_checkpoint(last, config, model, opt, train_loader, record)
        log(f"resuming from {last} (epoch {start_epoch} done)")
        if start_epoch >= config.epochs:
            log(f"epoch {start_epoch} already reaches --epochs {config.epochs}: nothing to "
                f"train (raise --epochs to go on)")
    elif config.resume:
        log(f"no checkpoint in {config.out} yet: starting a fresh run")
    log(f"model: {config.model}, {sum(p.numel() for p in model.parameters()):,} parameters; "
        f"{len(train_set):,} train / {len(test_set):,} test images; output in {config.out}")
    notice, eval_notice = CompileNotice(log), CompileNotice(log)
    for epoch in range(start_epoch + 1, config.epochs + 1):
        run.set_epoch(train_loader, epoch)
        try:
            loss, acc, rate, seconds, skipped = train_epoch(net, opt, train_loader, epoch,
                                                            config, notice, log)
            loss, acc, rate, seconds = run.reduce_train((loss, acc, rate, seconds))
            with eval_notice.around():
                test_loss, test_acc = run.reduce_eval(
                    evaluate(model, test_loader, config.device), test_loader)
            history.append({"epoch": epoch, "train_loss": loss, "train_acc": acc,
                            "test_loss": test_loss, "test_acc": test_acc,
                            "seconds": seconds, "images_per_s": rate, "skipped_steps": skipped})
            log(f"epoch {epoch}: train loss {loss:.4f} acc {acc:.4f} | test loss {test_loss:.4f} "
                f"acc {test_acc:.4f} | {seconds:.1f} s, {rate:,.0f} images/s"
                + (f" | {skipped} non-finite step(s) skipped" if skipped else ""))
            if run.writes:
                save_checkpoint(checkpoint_path(config.out, epoch), config, model, opt,
                                train_loader, epoch, history, record)
        except NonFiniteError as err:
            err.last = latest_checkpoint(config.out)
            raise
        if run.writes:
            write_metrics(config.out, config, history, record)
            write_weights(config.out, model, log, {"model": config.model,
                                                   "dataset": record.get("dataset", config.dataset)})
    if config.plots and history:
        _plots(config, model, test_set, history, log)
    return history


def _check_run(config):
    """Refuse, before any work, a run that cannot succeed: bad numbers, no GPU, --out a file."""
    steps = config.steps_per_epoch
    for name, value, ok, rule in (
            ("epochs", config.epochs, config.epochs >= 1, ">= 1"),
            ("batch_size", config.batch_size, config.batch_size >= 1, ">= 1"),
            ("lr", config.lr, math.isfinite(config.lr) and config.lr > 0, "> 0 and finite"),
            ("seed", config.seed, config.seed >= 0, ">= 0"),
            ("steps_per_epoch", steps, steps is None or steps >= 1, ">= 1")):
        if not ok:
            raise TrainError(f"{name} must be {rule}, got {value!r}")
    if config.nonfinite not in ("stop", "skip"):
        raise TrainError(f"nonfinite must be 'stop' or 'skip', got {config.nonfinite!r}")
    if config.device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise TrainError(f"--device cuda is not available: {reason}; train with --device cpu")
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise TrainError(f"--out {config.out} is a file, not a directory: choose another --out")
    out.mkdir(parents=True, exist_ok=True)


def _plots(config, model, test_set, history, log):
    try:  # late: viz needs matplotlib, an optional dependency
        from tinygrad_cnn import viz
    except ImportError:
        log("plots skipped: matplotlib is not installed (pip install 'tinygrad-cnn[train]')")
        return
    paths = viz.save_run_plots(config.out, model, test_set, history)
    log("plots: " + ", ".join(os.fspath(p) for p in paths))
