"""Image classification: the paper's own setting (iMixer vs MLP-Mixer) on digits and MNIST."""
from .datasets import DigitsDataset, MNISTDataset
from .model import ImageClassifier

__all__ = ["DigitsDataset", "MNISTDataset", "ImageClassifier"]
