# iMixer (tiny) on a 5,000-image MNIST subset: 28x28, 7x7 patches -> 16 tokens (as many as the digits
# recipe), the 10-epoch MNIST schedule, validation on the first 2,000 validation images, test on all
# 10,000. A quick MNIST setting for studies that sweep the implicit core (configs/benchmarks/deq_study.py);
# the full-data recipe is imixer-s_mnist.py (python tools/prepare_data.py mnist).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/mnist.py', '../_base_/schedules/adamw_10e.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.classification'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='IMixer', num_classes=10, img_size=28, in_chans=1, patch_size=7,
                  embed_dim=64, num_blocks=4))  # implicit token mixer: the authors' recipe
train_dataloader = dict(dataset=dict(subset=5000))
val_dataloader = dict(dataset=dict(subset=2000))
