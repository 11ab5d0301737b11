"""mmseg's visualisation hook with a ``test_out_dir`` (``tools/test.py ... --show-dir DIR``)."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook as _MMSegVisualizationHook

from backbones.registry import HOOKS


@HOOKS.register_module(name="SegVisualizationHook")
class SegVisualizationHook(_MMSegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` that also saves test predictions as images into ``test_out_dir``.

    Args:
        test_out_dir: folder for the drawn test predictions (ground truth | prediction side by side),
            relative to ``<work_dir>/<timestamp>`` or absolute; ``None``: mmseg's behaviour.
        draw, interval, show, wait_time, backend_args: as mmseg's hook.
    """

    def __init__(self, draw: bool = False, interval: int = 50, show: bool = False, wait_time: float = 0.0,
                 test_out_dir: Optional[str] = None, backend_args: Optional[dict] = None) -> None:
        super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time, backend_args=backend_args)
        self.test_out_dir = test_out_dir

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        if not self.draw or self.test_out_dir is None:
            return super().after_test_iter(runner, batch_idx, data_batch, outputs)
        out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
        for output in outputs:
            img = mmcv.imfrombytes(fileio.get(output.img_path, backend_args=self.backend_args), channel_order="rgb")
            name = osp.basename(output.img_path)
            self._visualizer.add_datasample(f"test_{name}", img, data_sample=output, show=self.show,
                                            wait_time=self.wait_time, out_file=osp.join(out_dir, name),
                                            step=runner.iter)
