# Self-pretraining, step 2: the sentence classifier started from the masked LM that
# configs/benchmarks/text_selfpretrain_mlm.py trained on the same set's training texts with the same seed
# (its tokenizer, kept beside the data as data/<set>/train-tokenizer-wordpiece-8000, width, depth, 64 tokens
# and encoder weights), against the same config from scratch (model.init_cfg=None: the same tokenizer,
# budget and seeds). Test accuracy of the best checkpoint by validation accuracy, 10 epochs.
#     python tools/benchmark.py configs/benchmarks/text_selfpretrain_mlm.py configs/benchmarks/text_selfpretrain.py
_cfg = 'configs/text/imixer_bbc-news_mlm-init.py'
_sets = ['movie_snippets', 'tweets', 'amazon_snippets', 'nyt_snippets']
benchmark = dict(
    task='text',
    title='Sentence classification self-pretrained on the own training texts vs from scratch (64 tokens, 10 epochs)',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    datasets={s: {'source': s, 'tokenizer': f'data/{s}/train-tokenizer-wordpiece-8000'} for s in _sets},
    runs=[
        dict(name='iMixer self-pretrained', role='imixer', config=_cfg, cfg_options={
            'model.init_cfg.checkpoint': '{best:text_selfpretrain_mlm/iMixer masked LM (own training texts)}'}),
        dict(name='iMixer from scratch', role='baseline', config=_cfg, cfg_options={'model.init_cfg': None}),
    ],
)
