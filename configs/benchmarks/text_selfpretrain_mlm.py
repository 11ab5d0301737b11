# Self-pretraining (Amos et al., "Never Train from Scratch", ICLR 2024), step 1: the iMixer masked LM of
# configs/text/mlm_imixer_bbc-news.py (300 iterations, 64 tokens, an 8,000-piece WordPiece vocabulary) on
# each sentence set's own *training* texts (split 90 / 5 / 5 for the LM's validation and test; the
# classifier's validation and test texts are never seen), one LM per seed. Step 2, the classifiers it
# starts: configs/benchmarks/text_selfpretrain.py.
#     python tools/benchmark.py configs/benchmarks/text_selfpretrain_mlm.py configs/benchmarks/text_selfpretrain.py
benchmark = dict(
    task='lm',
    title='Masked LMs self-pretrained on each sentence set\'s training texts, 300 iterations',
    metric='lm/perplexity',
    higher_is_better=False,
    seeds=[0, 1, 2],
    datasets={s: {'source': s} for s in ['movie_snippets', 'tweets', 'amazon_snippets', 'nyt_snippets']},
    runs=[dict(name='iMixer masked LM (own training texts)', role='imixer', config='configs/text/mlm_imixer_bbc-news.py')],
)
