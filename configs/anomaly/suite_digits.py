# Image one-vs-rest on scikit-learn digits (built in, 8x8): one digit is normal, 10 % of the set are
# other digits; the image iMixer detector (masked-patch reconstruction features + k-NN) against the
# tabular detectors on raw pixels. Pixels are left in [0, 1] (no per-pixel standardisation).
#   python tools/benchmark_anomaly.py configs/anomaly/suite_digits.py
datasets = [dict(type='image', name='digits', normal_class=c, contamination=0.1) for c in range(10)]
detectors = dict(
    imixer_image=dict(type='IMixerImageDetector', token_mixer='implicit'),
    mlpmixer_image=dict(type='IMixerImageDetector', token_mixer='mlp'),
    iforest=dict(type='IForestDetector'),
    ocsvm=dict(type='OCSVMDetector', gamma='scale'),
    knn=dict(type='KNNDetector'),
)
seeds = [0, 1, 2, 3, 4]
test_size = 0.4
standardize = False
out_dir = 'results/anomaly/digits'
quick = dict(datasets=[datasets[0], datasets[1]], seeds=[0, 1],
             detector_overrides=dict(imixer_image=dict(max_iters=60, min_iters=30),
                                     mlpmixer_image=dict(max_iters=60, min_iters=30)),
             out_dir='results/anomaly/digits_quick')
