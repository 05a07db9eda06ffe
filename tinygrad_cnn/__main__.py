"""Command line: ``python -m tinygrad_cnn train --model simple-cnn --dataset mnist ...``."""
import argparse
import sys

from tinygrad_cnn import export_command, predict
from tinygrad_cnn.models import MODELS


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tinygrad_cnn",
                                     description="Train the course's CNNs on MNIST, export "
                                     "them, and classify image files.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model, evaluating and checkpointing each epoch")
    t.add_argument("--model", default="simple-cnn", choices=sorted(MODELS))
    t.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist", "mnist-sample"],
                   help="mnist: full MNIST if present or downloadable, else the bundled sample")
    t.add_argument("--epochs", type=int, default=15)
    t.add_argument("--batch-size", type=int, default=100)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd"])
    t.add_argument("--seed", type=int, default=777)
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    t.add_argument("--out", default=None, help="run directory (default runs/MODEL)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in --out")
    t.add_argument("--data-dir", default=None, help="where the IDX files are (or go)")
    t.add_argument("--steps-per-epoch", type=int, default=None,
                   help="cut each epoch to this many batches (quick demos)")
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
    from tinygrad_cnn.train import TrainConfig, fit, latest_checkpoint

    out = args.out or f"runs/{args.model}"
    config = TrainConfig(model=args.model, dataset=args.dataset, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         seed=args.seed, device=args.device, out=out, data_dir=args.data_dir,
                         steps_per_epoch=args.steps_per_epoch, progress=not args.no_progress,
                         plots=not args.no_plots, resume=args.resume)
    try:
        fit(config)
    except FileExistsError as err:
        print(f"{err} (pass --resume to continue it)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        last = latest_checkpoint(out)
        print(f"\ninterrupted; the last complete checkpoint is {last or 'none yet'} "
              f"(continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
