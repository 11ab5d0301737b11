"""COCO-format detection datasets: mmdet's ``CocoDataset`` with clear errors, and the built-in digit scenes.

Both are thin subclasses of mmdet's real :class:`mmdet.datasets.CocoDataset` (same pipeline, same
``data_root`` / ``ann_file`` / ``data_prefix`` / ``metainfo`` arguments); configs reach them by scope
prefix (``type='imixer.DigitScenesDataset'``) while ``default_scope='mmdet'``.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional

from mmdet.datasets import CocoDataset

from backbones.registry import DATASETS

from tasks.common.scenes import CLASSES, ensure_scenes

#: one colour per digit for DetLocalVisualizer
DIGIT_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                 (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


@DATASETS.register_module()
class CocoDetDataset(CocoDataset):
    """mmdet's ``CocoDataset`` for any COCO json, with clear errors for the usual mistakes.

    Raises (when the annotations are loaded):
        FileNotFoundError: the annotation file does not exist.
        ValueError: the file is empty or not JSON; it lists no images; or a class of
            ``metainfo['classes']`` is not a category name of the file (mmdet would silently drop it).
    """

    def load_data_list(self) -> List[dict]:
        path = self.ann_file
        if not os.path.isfile(path):
            raise FileNotFoundError(f"COCO annotation file not found: {path} (set data_root / ann_file)")
        if os.path.getsize(path) == 0:
            raise ValueError(f"COCO annotation file {path} is empty; expected a JSON object with 'images', "
                             "'annotations' and 'categories'")
        try:
            data_list = super().load_data_list()
        except json.JSONDecodeError as exc:
            raise ValueError(f"COCO annotation file {path} is not valid JSON ({exc})") from exc
        classes = list(self.metainfo["classes"])
        if len(self.cat_ids) != len(classes):  # CocoDataset would silently drop the unknown classes
            with open(path) as f:
                names = [c.get("name") for c in json.load(f).get("categories", [])]
            unknown = [c for c in classes if c not in names]
            raise ValueError(f"classes {unknown} of metainfo['classes'] are not categories of {path}; its "
                             f"categories are {names}. Set metainfo=dict(classes=(...)) to names from that list.")
        if not data_list:
            raise ValueError(f"COCO annotation file {path} lists no images")
        return data_list


@DATASETS.register_module()
class DigitScenesDataset(CocoDetDataset):
    """The built-in digit scenes (:mod:`tasks.common.scenes`) read by mmdet's ``CocoDataset``.

    The scenes are generated on first use at the built-in location (safe with several processes).

    Args:
        source: ``'digits'`` (scikit-learn, built in) or ``'mnist'``.
        scenes: settings the scenes must have (``num_train``, ``num_val``, ``img_size``, ...); an
            existing set with other settings is an error unless ``generate=True``.
        data_root: scene directory; ``None`` -> ``<data root>/digit_scenes`` (``mnist_scenes``), where
            the data root is ``$IMIXER_DATA`` or ``data/``. A folder without scenes is an error.
        generate: ``True`` generates (or regenerates) the scenes at a ``data_root`` of your choice.
        **kwargs: ``CocoDataset`` arguments (``ann_file``, ``data_prefix``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=CLASSES, palette=DIGIT_PALETTE)

    def __init__(self, source: str = "digits", scenes: Optional[dict] = None, data_root: Optional[str] = None,
                 generate: Optional[bool] = None, **kwargs) -> None:
        root = ensure_scenes(data_root, source, scenes, generate)
        self.source = source
        super().__init__(data_root=str(root), **kwargs)
