# Language models on the same tokens (issue 25): the iMixer's masked and causal LMs beside their MLP-Mixer
# twins and transformers' BertForMaskedLM / GPT2LMHeadModel of the same width (64), depth (2) and about the
# same size (0.61-0.64M parameters, 0.51M of them the 8,000 x 64 tied word embeddings), on GCIDE
# (python tools/prepare_data.py gcide): the same WordPiece tokenizer, 64-token windows, batch 32, AdamW
# schedule, seed and, for the masked LMs, the same masked positions (lm_collate(fixed_masks=True)).
# Test perplexity over the first 1,024 test windows (lm/perplexity); tokens/s = iters_per_s x 32 x 64 and the
# peak memory from each run's probe.json.
#     python tools/benchmark.py configs/benchmarks/lm_mlm_gcide.py      (causal LMs: lm_clm_gcide.py)
benchmark = dict(
    task='lm',
    title='Masked LMs on GCIDE, 300 iterations x 32 windows x 64 tokens',
    metric='lm/perplexity',
    higher_is_better=False,
    seeds=[0],
    runs=[
        dict(name='iMixer masked LM', role='imixer', config='configs/text/mlm_imixer_gcide.py'),
        dict(name='MLP-Mixer masked LM (twin)', role='twin', config='configs/text/mlm_mlpmixer_gcide.py'),
        dict(name='BERT (BertForMaskedLM)', role='baseline', config='configs/text/mlm_bert_gcide.py'),
    ],
    # the shared 2-core machine's budget: 300 of the configs' 1,000 iterations (the schedules follow the run)
    cfg_options={'train_cfg.max_iters': 300, 'train_cfg.val_interval': 100, 'default_hooks.checkpoint.interval': 100},
)
