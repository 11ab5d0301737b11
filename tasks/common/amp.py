"""Mixed precision for every task, the same way (``tools/train.py --amp``).

* CUDA: mmengine's ``AmpOptimWrapper`` (float16 with dynamic loss scaling unless the config sets
  ``optim_wrapper.dtype``).
* CPU: mmengine's AmpOptimWrapper refuses to run without an accelerator, so
  :class:`CPUAmpOptimWrapper` runs the forward under ``torch.autocast('cpu', dtype=bfloat16)``
  (bfloat16 has float32's range: no loss scaling needed).

Losses without a bfloat16 kernel (mmcv's sigmoid focal loss on CUDA) are kept in float32 by the
task's own code, not here.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from backbones.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` autocasts to ``dtype`` (default bfloat16) on the CPU.

    Args:
        dtype: ``'bfloat16'`` (or ``'float16'`` where the CPU build supports it).
        **kwargs: as for ``OptimWrapper``.
    """

    def __init__(self, dtype: str = "bfloat16", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(device_type="cpu", dtype=self.cast_dtype):
            yield


def enable_amp(cfg: Config) -> Config:
    """Switch ``cfg.optim_wrapper`` to mixed precision for the device this process will use."""
    ow = cfg.optim_wrapper
    if ow.get("type", "OptimWrapper") in ("AmpOptimWrapper", "imixer.CPUAmpOptimWrapper", "CPUAmpOptimWrapper"):
        return cfg
    if torch.cuda.is_available():
        ow.type = "AmpOptimWrapper"
        ow.setdefault("dtype", "float16")
        if ow.dtype == "float16":
            ow.setdefault("loss_scale", "dynamic")
    else:
        ow.type = "imixer.CPUAmpOptimWrapper"
        ow.setdefault("dtype", "bfloat16")
    print(f"[amp] optim_wrapper: {ow.type}, dtype {ow.dtype}", flush=True)
    return cfg
