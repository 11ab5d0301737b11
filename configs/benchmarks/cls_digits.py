# The paper's claim at the smallest scale: the iMixer against its MLP-Mixer twin on scikit-learn digits
# (built in), the same recipe and budget (configs/cls/*-t_digits.py), three seeds.
#     python tools/benchmark.py configs/benchmarks/cls_digits.py
benchmark = dict(
    task='classification',
    title='Digits (8x8), iMixer-T vs MLP-Mixer-T, 30 epochs',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    runs=[
        dict(name='iMixer-T', role='imixer', config='configs/cls/imixer-t_digits.py'),
        dict(name='MLP-Mixer-T', role='twin', config='configs/cls/mlpmixer-t_digits.py'),
    ],
)
