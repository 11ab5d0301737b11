# Choosing IMixerImageDetector's feature pooling without judging the choice on the class it is scored on.
# MNIST one-vs-rest (each digit normal in turn; configs/anomaly/suite_mnist.py's sets), seeds 0-2. For every
# digit the candidate with the best mean ROC-AUC on the other nine digits is picked and scored on the
# held-out digit; the held-out column is ranked against Isolation Forest and k-NN on raw pixels.
#   python tools/prepare_data.py mnist
#   python tools/benchmark_anomaly.py configs/anomaly/select_image.py
_base_ = './suite_mnist.py'

detectors = dict(
    _delete_=True,
    image_flatten=dict(type='IMixerImageDetector', token_mixer='implicit', patch_size=4, pool='flatten'),
    image_mean=dict(type='IMixerImageDetector', token_mixer='implicit', patch_size=4, pool='mean'),
    iforest=dict(type='IForestDetector'),
    knn=dict(type='KNNDetector'),
)
seeds = [0, 1, 2]
selection = dict(candidates=['image_flatten', 'image_mean'], name='imixer_image (LODO)', groups=[],
                 compare=['iforest', 'knn'])
out_dir = 'results/anomaly/select_image'
