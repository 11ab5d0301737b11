"""Mixed precision for every task, the same way: mmengine's AmpOptimWrapper."""
from __future__ import annotations

import torch
from mmengine.config import Config


def enable_amp(cfg: Config) -> Config:
    """Switch ``cfg.optim_wrapper`` to ``AmpOptimWrapper``.

    float16 with dynamic loss scaling on CUDA; bfloat16 on CPU (CPU autocast has no float16 GEMMs).
    A config may set ``optim_wrapper.dtype`` itself. Losses that have no bfloat16 kernel (mmcv's
    sigmoid focal loss on CUDA) are kept in float32 by the task's own code, not here.
    """
    ow = cfg.optim_wrapper
    if ow.get("type", "OptimWrapper") == "AmpOptimWrapper":
        return cfg
    ow.type = "AmpOptimWrapper"
    if "dtype" not in ow:
        ow.dtype = "float16" if torch.cuda.is_available() else "bfloat16"
    if ow.dtype == "float16":
        ow.setdefault("loss_scale", "dynamic")
    return cfg
