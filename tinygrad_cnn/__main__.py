"""Command line: ``python -m tinygrad_cnn train --model simple-cnn --dataset mnist ...``."""
import argparse
import sys
import traceback

from tinygrad_cnn import export_command, predict
from tinygrad_cnn.checkpoint import CheckpointError
from tinygrad_cnn.cli_args import nonnegative_int, one_line, positive_float, positive_int
from tinygrad_cnn.data import DatasetNotFoundError, DownloadError, IDXFormatError
from tinygrad_cnn.models import MODELS
from tinygrad_cnn.train import TrainConfig, fit, latest_checkpoint
from tinygrad_cnn.train_guards import TrainError


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tinygrad_cnn",
                                     description="Train the course's CNNs on MNIST, export "
                                     "them, and classify image files.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model, evaluating and checkpointing each epoch")
    t.add_argument("--model", default="simple-cnn", choices=sorted(MODELS))
    t.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist", "mnist-sample"],
                   help="mnist: full MNIST if present or downloadable, else the bundled sample")
    t.add_argument("--epochs", type=positive_int, default=15)
    t.add_argument("--batch-size", type=positive_int, default=100)
    t.add_argument("--lr", type=positive_float, default=1e-3)
    t.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd"])
    t.add_argument("--seed", type=nonnegative_int, default=777)
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    t.add_argument("--out", default=None, help="run directory (default runs/MODEL)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in --out")
    t.add_argument("--data-dir", default=None, help="where the IDX files are (or go)")
    t.add_argument("--steps-per-epoch", type=positive_int, default=None,
                   help="cut each epoch to this many batches (quick demos)")
    t.add_argument("--nonfinite", default="stop", choices=["stop", "skip"],
                   help="a NaN/inf loss or gradient: stop the run (default) or skip the step")
    t.add_argument("--debug", action="store_true",
                   help="on an error, show the Python traceback too")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    export_command.add_parser(sub)
    predict.add_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "export":
        return export_command.run(args)
    if args.command == "predict":
        return predict.run(args)
    out = args.out or f"runs/{args.model}"
    config = TrainConfig(model=args.model, dataset=args.dataset, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         seed=args.seed, device=args.device, out=out, data_dir=args.data_dir,
                         steps_per_epoch=args.steps_per_epoch, progress=not args.no_progress,
                         plots=not args.no_plots, resume=args.resume, nonfinite=args.nonfinite)
    try:
        fit(config)
    except KeyboardInterrupt:
        last = latest_checkpoint(out)
        print(f"\ninterrupted; the last complete checkpoint is {last or 'none yet'} "
              f"(continue with --resume)", file=sys.stderr)
        return 130
    except FileExistsError as err:
        return _error(args, f"{one_line(err)} (pass --resume to continue it)", 2)
    except EXPECTED_ERRORS as err:
        return _error(args, one_line(err), 1)
    return 0


# what a run can foreseeably meet: bad data, checkpoints, devices, settings, disks
EXPECTED_ERRORS = (TrainError, CheckpointError, IDXFormatError, DatasetNotFoundError,
                   DownloadError, OSError)


def _error(args, message, code):
    """One `error: ...` line on stderr (after the traceback with --debug); returns `code`."""
    if args.debug:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
