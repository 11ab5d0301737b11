# iMixer text classifier on BBC News (5 classes; python tools/prepare_data.py bbc_news bert_uncased).
# A small CPU-feasible model: BERT's uncased vocabulary, word embeddings started from MiniLM's 384-wide
# word-piece table and projected to width 64, 256 tokens, 2 blocks; the implicit token mixer with the
# authors' recipe (h_ratio 2, 2 unrolled steps). The same recipe for articles and for single sentences
# (chosen on validation splits, docs/text.md); *_wordpiece.py learns everything from the training split.
# Regularised for small training sets: random windows + [UNK] dropout, weight EMA.
# After training, ExportHFHook writes the best checkpoint + tokenizer to <work_dir>/hf_export, a
# self-contained folder (AutoModelForSequenceClassification.from_pretrained(dir, trust_remote_code=True)).
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/adamw_10e.py']
custom_imports = dict(imports=['backbones', 'tasks.common', 'tasks.text'], allow_failed_imports=False)

# Each setting below is stated once and reaches every place that uses it (tasks.text.resolve_text_config,
# run by tools/train.py / tools/test.py): e.g. --cfg-options source=my.csv max_length=128.
# num_labels (and id2label) come from the training split's labels.
config_resolvers = ['resolve_text_config']
source = 'bbc_news'    # or a CSV file, a folder with train/val/test.csv, a folder of <class>/*.txt
max_length = 256       # the datasets' truncation / padding and the model's fixed token count
vocab_size = 30522     # the tokenizer's vocabulary, and the model's embedding rows
tokenizer = 'bert_uncased'  # BERT's; None: a WordPiece vocabulary trained beside the data; or a folder
data = dict(type='TextClsDataset')

model = dict(
    type='HFTextClassifier',
    label_smoothing=0.1,
    word_embeddings=dict(source='bert_uncased', freeze=True),  # MiniLM's table (fixed), indexed by BERT's vocabulary
    hf_config=dict(hidden_size=64, embedding_size=384, num_hidden_layers=2, mlp_ratio=(0.5, 4.0),
                   hidden_dropout_prob=0.2, classifier_dropout=0.1, token_mixer='implicit'))

train_dataloader = dict(
    batch_size=32, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # training-time augmentation: a random 254-piece window of each longer article, 10 % of the word
    # pieces replaced by [UNK]; evaluation averages the logits of up to 4 windows spread over the text
    dataset=dict(data, split='train', crop='random', token_dropout=0.1))
val_dataloader = dict(
    batch_size=64, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(data, split='val', crop='windows'))
test_dataloader = dict(val_dataloader, dataset=dict(data, split='test', crop='windows'))
val_evaluator = dict(type='ClsMetric')
test_evaluator = val_evaluator

# the schedule: configs/_base_/schedules/adamw_10e.py; lr 3e-3 and fused AdamW (one kernel per step instead
# of a loop over tensors, 7x faster on an 11.7M-entry tensor on a CPU)
optim_wrapper = dict(optimizer=dict(lr=3e-3, fused=True))
default_hooks = dict(logger=dict(type='LoggerHook', interval=10))
custom_hooks = [dict(type='SolverStatsHook'), dict(type='EMAHook', momentum=0.02), dict(type='ExportHFHook', out_dir='hf_export', checkpoint='best')]
