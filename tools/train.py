"""Train any imixer config with mmengine's Runner (every task: cls, det, seg, anomaly, text, graph).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--no-test] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_GPUS [args]        # torchrun, --launcher pytorch

The config's Runner (``runner_type='IMixerRunner'``, tasks/common/runner.py) checks every split before
training, follows a run made shorter or longer by --cfg-options with its LR schedule, and after training
evaluates the test split with the best checkpoint into <work_dir>/test_metrics.json (--no-test skips it).
"""
import argparse

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.common import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a model with mmengine's Runner")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (AmpOptimWrapper; float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--no-test", action="store_true",
                        help="skip the test split after training (default: evaluate it with the best checkpoint "
                             "and write <work_dir>/test_metrics.json)")
    return cli.parse(cli.add_common_args(parser), argv)


def main(argv=None):
    cli.train(parse_args(argv))


if __name__ == "__main__":
    main()
