# Image one-vs-rest on MNIST (28x28, 4x4 patches -> 49 tokens): per normal digit at most 1,000 normal
# images plus 10 % other digits (kept small for CPU). Needs: python tools/prepare_data.py mnist
#   python tools/benchmark_anomaly.py configs/anomaly/suite_mnist.py [--device cuda]
datasets = [dict(type='image', name='mnist', normal_class=c, contamination=0.1, max_normal=1000) for c in range(10)]
detectors = dict(
    imixer_image=dict(type='IMixerImageDetector', token_mixer='implicit'),
    mlpmixer_image=dict(type='IMixerImageDetector', token_mixer='mlp'),
    iforest=dict(type='IForestDetector'),
    knn=dict(type='KNNDetector'),
)
seeds = [0, 1, 2, 3, 4]
test_size = 0.4
standardize = False
out_dir = 'results/anomaly/mnist'
quick = dict(datasets=[datasets[0]], seeds=[0, 1], out_dir='results/anomaly/mnist_quick')
