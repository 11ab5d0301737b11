"""imixer: the implicit MLP-Mixer (iMixer) as a shared backbone for detection, segmentation,
anomaly scoring, text and graph classification and image classification.

Install for development with ``bash tools/setup_env.sh`` (the whole pinned stack in ``.venv/``) or,
into an environment that already has torch and the OpenMMLab stack, ``pip install -e .``.
"""
from setuptools import find_packages, setup

setup(
    name="imixer",
    version="0.1.0",
    description="iMixer (invertible, implicit, iterative MLP-Mixer) backbones and task heads "
    "for mmdet, mmseg, transformers, torch-geometric and scikit-learn",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["backbones", "backbones.*", "tasks", "tasks.*"]),
    install_requires=[
        "torch>=2.4,<2.15",
        "numpy>=1.24",
        "mmengine>=0.10.4,<0.11",
        "scikit-learn>=1.3",
    ],
    extras_require={
        # mmcv 2.1.0 must be compiled for the installed torch: see tools/setup_env.sh
        "dense": ["mmcv>=2.0.0rc4,<2.2.0", "mmdet>=3.3,<3.4", "mmsegmentation>=1.2,<1.3",
                  "pycocotools", "ftfy", "regex"],
        "text": ["transformers>=4.40", "tokenizers>=0.19"],
        "graph": ["torch-geometric>=2.5"],
        "data": ["pyreadr", "pandas", "rdkit"],  # rdkit: molecular graphs of the b3db / solubility sets
        "test": ["pytest", "matplotlib", "tqdm"],
        "dev": ["pytest", "matplotlib", "tqdm", "ruff"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
