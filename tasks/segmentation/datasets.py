"""Semantic-segmentation datasets in mmseg's ``img_dir/ann_dir`` layout (mmseg's real ``BaseSegDataset``).

* :class:`SegFolderDataset`: any dataset in that layout (images and ``uint8`` class-index PNG maps with
  the same file stem), with clear errors for empty or mismatched folders and a missing class list.
* :class:`DigitScenesSegDataset`: the built-in digit scenes (:mod:`tasks.common.scenes`), 11 classes
  (``background`` + the digits ``'0'``..``'9'``), generated on first use.
"""
from __future__ import annotations

import os
from typing import List, Optional

from mmseg.datasets import BaseSegDataset

from backbones.registry import DATASETS
from tasks.common.scenes import SEG_CLASSES, ensure_scenes

SEG_PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
               (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


@DATASETS.register_module()
class SegFolderDataset(BaseSegDataset):
    """mmseg's ``BaseSegDataset`` with checks (``type='imixer.SegFolderDataset'``).

    Give the classes in ``metainfo=dict(classes=(...))`` (class ``i`` is pixel value ``i`` in the maps;
    255 is ignored). All other arguments are ``BaseSegDataset``'s (``data_root``,
    ``data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')``, ``img_suffix``, ...).

    Raises:
        ValueError: no ``metainfo.classes``; no images with ``img_suffix`` in the image folder; or
            images without a segmentation map.
        FileNotFoundError: the image folder does not exist.
    """

    def load_data_list(self) -> List[dict]:
        if not self.metainfo.get("classes"):
            raise ValueError("SegFolderDataset needs metainfo=dict(classes=('background', ...)): class i is the "
                             "pixel value i of the segmentation maps")
        img_dir = self.data_prefix.get("img_path", "")
        if not self.ann_file and not os.path.isdir(img_dir):
            raise FileNotFoundError(f"image folder not found: {img_dir} (check data_root and data_prefix.img_path)")
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f"no '*{self.img_suffix}' images found in {img_dir}; check data_prefix.img_path and "
                             "img_suffix")
        missing = [d["seg_map_path"] for d in data_list if "seg_map_path" in d and not os.path.isfile(d["seg_map_path"])]
        if missing:
            raise ValueError(f"{len(missing)} of {len(data_list)} images have no segmentation map, e.g. {missing[:3]} "
                             f"(maps are matched by file stem + seg_map_suffix={self.seg_map_suffix!r})")
        return data_list


@DATASETS.register_module()
class DigitScenesSegDataset(SegFolderDataset):
    """The built-in digit scenes as semantic segmentation (``background`` + 10 digit classes).

    Args:
        source: ``'digits'`` (scikit-learn, built in) or ``'mnist'``.
        scenes: settings the scenes must have (``num_train``, ``img_size``, ...), as for detection.
        data_root: scene directory; ``None`` -> ``<data root>/digit_scenes`` (``mnist_scenes``). A folder
            without scenes is an error.
        generate: ``True`` generates (or regenerates) the scenes at a ``data_root`` of your choice.
        **kwargs: ``BaseSegDataset`` arguments (``data_prefix``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=SEG_CLASSES, palette=SEG_PALETTE)

    def __init__(self, source: str = "digits", scenes: Optional[dict] = None, data_root: Optional[str] = None,
                 img_suffix: str = ".png", seg_map_suffix: str = ".png", generate: Optional[bool] = None,
                 **kwargs) -> None:
        root = ensure_scenes(data_root, source, scenes, generate)
        self.source = source
        super().__init__(data_root=str(root), img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
