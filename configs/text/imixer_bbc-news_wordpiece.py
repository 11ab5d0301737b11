# imixer_bbc-news.py with everything learnt from the training split: a WordPiece vocabulary of 8,000
# pieces trained on it and word embeddings learnt from scratch (64 wide), instead of BERT's vocabulary
# and MiniLM's pretrained word-piece embeddings. Needs no download beyond the data.
_base_ = ['./imixer_bbc-news.py']
tokenizer = None       # trained on the training split, kept beside the data (or in the benchmark's work dir)
vocab_size = 8000
model = dict(word_embeddings=None, hf_config=dict(embedding_size=None))
