# The unseen image source: animal silhouettes (PyPI animal-mnist, 28x28, 10 classes x 1,000), every class
# normal in turn, 1,000 normal images + 10 % other animals, seeds 0-2. No choice of the image detector's
# defaults looked at it: configs/anomaly/select_image.py chose them on digits, MNIST and Fashion-MNIST.
# The selection grid runs here too (its trainings shared per set and seed); its `image_p16_flat_pix50_k3pc`, the
# setting select_image.py chose, is IMixerImageDetector's defaults (the same scores as the detector built
# with defaults alone); the baselines are on raw pixels.
#   python tools/prepare_data.py animal_shapes
#   python tools/benchmark_anomaly.py configs/anomaly/suite_images.py
_base_ = './select_image.py'

datasets = [dict(type='image', name='animal_shapes', normal_class=c, contamination=0.1, max_normal=1000)
            for c in range(10)]
selection = None
out_dir = 'results/anomaly/images_unseen'
