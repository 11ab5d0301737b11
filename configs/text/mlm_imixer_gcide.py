# Masked language model (BERT's objective) on the GCIDE dictionary text (python tools/prepare_data.py gcide):
# the iMixer encoder of the text classifier (IMixerForMaskedLM) with BERT's prediction head, trained with
# transformers' DataCollatorForLanguageModeling (15 % of the tokens masked) through mmengine's Runner.
# A CPU-sized model: 64-token windows, width 64, 2 blocks, an 8,000-piece WordPiece vocabulary trained on
# the training split. Validation / test perplexity over fixed masked positions (lm/perplexity).
# Twins and baselines on the same tokens: mlm_mlpmixer_gcide.py (token_mixer='mlp'), mlm_bert_gcide.py.
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.text'], allow_failed_imports=False)

# Each setting below is stated once and reaches every place that uses it (tasks.text.resolve_lm_config):
# the three datasets, their collate functions and the model (e.g. --cfg-options source=my_texts/ max_length=32).
config_resolvers = ['resolve_lm_config']
source = 'gcide'       # or fortunes, a folder of .txt files, a .txt file, a CSV file (text_column)
objective = 'mlm'
max_length = 64        # the window length and the model's fixed token count
vocab_size = 8000      # a WordPiece vocabulary trained on the training split, kept beside the data
tokenizer = None       # or a saved tokenizer's folder
data = dict(type='LMDataset')

# mlp_ratio[0] = 1: the token mixer's internal width equals the token count (square token-mixing matrices)
model = dict(
    type='HFLanguageModel',
    hf_config=dict(model_type='imixer', hidden_size=64, num_hidden_layers=2, mlp_ratio=(1.0, 4.0),
                   token_mixer=dict(type='implicit')))

train_dataloader = dict(
    batch_size=32, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='imixer.lm_collate'),
    dataset=dict(data, split='train'))
# evaluation on the first windows of each split (the splits are random documents): 256 / 1,024 windows
val_dataloader = dict(
    batch_size=64, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='imixer.lm_collate', fixed_masks=True),
    dataset=dict(data, split='val', max_windows=256))
test_dataloader = dict(val_dataloader, dataset=dict(data, split='test', max_windows=1024))
val_evaluator = dict(type='PerplexityMetric')
test_evaluator = val_evaluator

max_iters = 1000       # 1,000 x 32 windows x 64 tokens = 2.0 million training tokens (CPU-sized)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250, max_keep_ckpts=1,
                    save_best='lm/perplexity', rule='less'))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='SolverStatsHook'), dict(type='ExportHFHook', out_dir='hf_export', checkpoint='best')]
