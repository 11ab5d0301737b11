"""Train any imixer config with mmengine's Runner (every task: cls, det, seg, anomaly, text, graph).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--no-test] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_GPUS [args]        # torchrun, --launcher pytorch

The config's Runner (``runner_type='imixer.IMixerRunner'``, tasks/common/runner.py) checks every split
before training, follows a run made shorter or longer by --cfg-options with its LR schedule, and after
training evaluates the test split with the best checkpoint into <work_dir>/test_metrics.json (--no-test
skips it); <work_dir>/probe.json records time, memory, losses and solver statistics.
"""
import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.common.cli import train_main

if __name__ == "__main__":
    train_main()
