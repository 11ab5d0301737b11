"""imixer tasks. Each subpackage registers its models, datasets and metrics in the ``imixer``
registries (:mod:`backbones.registry`) when imported; configs import the one they need with
``custom_imports=dict(imports=['tasks.<task>'])``.

* :mod:`tasks.classification` - image classification (digits, MNIST)
* :mod:`tasks.detection`, :mod:`tasks.segmentation` - mmdet / mmseg with ``imixer.IMixerPyramid``
* :mod:`tasks.anomaly` - scikit-learn-style anomaly detectors and the benchmark suite
* :mod:`tasks.text` - Hugging Face transformers models
* :mod:`tasks.graph` - torch-geometric node classification
"""
