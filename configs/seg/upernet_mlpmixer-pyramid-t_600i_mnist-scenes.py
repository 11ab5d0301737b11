# MNIST-scenes variant (python tools/prepare_data.py mnist_scenes, or generated on first use).
_base_ = ['./upernet_mlpmixer-pyramid-t_600i_digits.py']
train_dataloader = dict(dataset=dict(source='mnist'))
val_dataloader = dict(dataset=dict(source='mnist'))
test_dataloader = val_dataloader
