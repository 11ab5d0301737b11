"""The digit-scene generator lives in :mod:`tasks.common.scenes` (shared with segmentation, which must not
import mmdet); this module keeps the old import path working."""
from tasks.common.scenes import (CLASSES, DEFAULTS, SEG_CLASSES, default_scenes_root, ensure_scenes,  # noqa: F401
                                 generate_scenes, prepare_digit_scenes, prepare_mnist_scenes)
