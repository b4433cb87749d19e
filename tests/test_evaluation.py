"""The held-out measurements (`lmteach.analysis.evaluation`), each checked against an independent reference: a
hand computation on a tiny stream, a brute-force count, or a fake model whose right answer is known (an oracle
that knows the hidden tokens, a head that always says the same thing)."""

import itertools
import math
from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import lmteach as lt
from lmteach.analysis import evaluation as ev
from lmteach.data.corpus import PLAY_SPLIT, load_corpus
from lmteach.data.tokenization import load_default
from lmteach.models.transformer import ModelOutput
from lmteach.objectives import IGNORE_INDEX
from lmteach.training import masked_lm_batches, tokenized_documents


@pytest.fixture(scope="module")
def tok():
    return load_default("wordpiece")


@pytest.fixture(scope="module")
def parts():
    return load_corpus().split_by_play()


@pytest.fixture(scope="module")
def held_out(tok, parts):
    """A few held-out scenes (test plays), as packed spans of token ids, and their plays."""
    return tokenized_documents(tok, parts["test"], span_tokens=30, max_documents=40)


# --- the held-out split itself --------------------------------------------------------------------------------

def test_split_by_play_holds_whole_plays_out(parts):
    corpus = load_corpus()
    assert set(parts["validation"].document_works) == set(PLAY_SPLIT["validation"])
    assert set(parts["test"].document_works) == set(PLAY_SPLIT["test"])
    assert not set(parts["train"].document_works) & (set(PLAY_SPLIT["validation"]) | set(PLAY_SPLIT["test"]))
    # Nothing is lost or counted twice: the three parts are the corpus's documents.
    assert sum(len(p.documents) for p in parts.values()) == len(corpus.documents)
    assert parts["test"].text and parts["test"].text not in parts["train"].text


def test_split_by_play_of_text_without_plays_splits_documents(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("\n\n".join(f"paragraph number {i} of my own text." for i in range(50)))
    split = load_corpus(path).split_by_play()
    paragraphs = {name: [p for doc in part.documents for p in doc] for name, part in split.items()}
    # One file: 80 / 10 / 10 of its paragraphs, the held-out parts at its end, nothing lost or repeated.
    assert {name: len(p) for name, p in paragraphs.items()} == {"train": 40, "validation": 5, "test": 5}
    assert paragraphs["train"] + paragraphs["validation"] + paragraphs["test"] == load_corpus(path).documents[0]


# --- counting baselines: by hand on tiny streams -------------------------------------------------------------------

def test_unigram_loss_by_hand():
    # Training counts (add-one, V = 4): token 1 twice, 2 once, 3 never; total 3 + 4 = 7.
    # The first evaluated token is not scored; then 2 (p = 2/7) and 3 (p = 1/7).
    expected = -(math.log(2 / 7) + math.log(1 / 7)) / 2
    assert ev.unigram_loss([1, 1, 2], [1, 2, 3], vocab_size=4) == pytest.approx(expected)
    assert ev.unigram_loss(torch.tensor([1, 1, 2]), torch.tensor([1, 2, 3]), 4) == pytest.approx(expected)


def test_bigram_loss_by_hand():
    train = [1, 2, 1, 2, 3]  # pairs (1,2) x2, (2,1), (2,3); as first of a pair: 1 twice, 2 twice
    # 1 -> 2: bigram 2/2, unigram (2+1)/(5+4); 2 -> 3: bigram 1/2, unigram (1+1)/9. Mixed 0.7 / 0.3.
    p12 = 0.7 * 1.0 + 0.3 * 3 / 9
    p23 = 0.7 * 0.5 + 0.3 * 2 / 9
    assert ev.bigram_loss(train, [1, 2, 3], 4) == pytest.approx(-(math.log(p12) + math.log(p23)) / 2)
    # A previous token never seen first in a pair (3 is only ever last): the unigram alone.
    assert ev.bigram_loss(train, [3, 1], 4) == pytest.approx(-math.log(3 / 9))
    # On text that follows its pairs the bigram beats the unigram; the weight shifts it toward the unigram.
    assert ev.bigram_loss(train, [1, 2, 1, 2], 4) < ev.unigram_loss(train, [1, 2, 1, 2], 4)
    assert ev.bigram_loss(train, [1, 2, 3], 4, unigram_weight=0.0) == pytest.approx(
        -(math.log(1.0) + math.log(0.5)) / 2)


# --- causal LMs ---------------------------------------------------------------------------------------------------

def _tiny_gpt(vocab_size, seed=0):
    torch.manual_seed(seed)
    return lt.build(lt.configs.gpt2("tiny", vocab_size=vocab_size, num_layers=1, hidden_size=32, num_heads=2,
                                    ffn_size=64, max_positions=32))


def test_causal_lm_loss_is_the_mean_over_every_predicted_token():
    model = _tiny_gpt(50)
    ids = torch.randint(0, 50, (170,), generator=torch.Generator().manual_seed(0))
    measured = ev.causal_lm_loss(model, ids, seq_len=16, max_windows=6)
    # By hand: windows 0-15, 16-31, ... (six of them), every token after the first predicted from the ones before.
    windows = ids[:96].view(6, 16)
    with torch.no_grad():
        log_probs = model.eval()(windows).logits.log_softmax(-1)
    picked = log_probs[:, :-1].gather(-1, windows[:, 1:, None])
    assert measured == pytest.approx(float(-picked.mean()), rel=1e-5)
    model.train()
    assert ev.causal_lm_loss(model, ids, seq_len=16, max_windows=6) == pytest.approx(measured, rel=1e-6)
    assert model.training  # the model's mode is restored


def test_causal_lm_figures_compare_with_the_counting_baselines():
    tok = load_default("byte_bpe")
    text = "to be, or not to be, that is the question. " * 40
    parts = {"train": SimpleNamespace(text=text), "test": SimpleNamespace(text=text[: len(text) // 2])}
    model = _tiny_gpt(tok.vocab_size)
    figures = ev.causal_lm_figures(model, tok, parts, seq_len=16, max_windows=5)
    assert figures["test_tokens"] == 80
    # An untrained model spreads its bets over the whole vocabulary: about ln V, worse than counting.
    assert abs(figures["test_loss"] - math.log(tok.vocab_size)) < 0.5
    assert figures["bigram_loss"] < figures["unigram_loss"] < figures["test_loss"]
    assert figures["below_unigram"] == pytest.approx(figures["unigram_loss"] - figures["test_loss"])
    assert figures["below_unigram"] < 0


# --- masked LMs ---------------------------------------------------------------------------------------------------

class Oracle(nn.Module):
    """A masked LM that knows the text behind every corrupted batch it will be shown (a lookup table), and on
    any other input predicts the input itself: one-hot logits of the right answers everywhere."""

    def __init__(self, vocab_size, answers: dict):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # a parameter, so the measurement can ask for a device
        self.vocab_size, self.answers = vocab_size, answers

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        answer = self.answers.get(_key(input_ids), input_ids)
        return ModelOutput(prediction_logits=50.0 * nn.functional.one_hot(answer, self.vocab_size).float())


class Constant(nn.Module):
    """A masked LM that always predicts the same token."""

    def __init__(self, vocab_size, token):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.vocab_size, self.token = vocab_size, token

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        logits[..., self.token] = 1.0
        return ModelOutput(logits=logits)


def _key(ids):
    return tuple(ids.shape), ids.numpy().tobytes()


def _the_batches(tok, docs, plays, n, **settings):
    """The batches masked_lm_figures grades on: the same batch maker, seed, rate and mix."""
    make = masked_lm_batches(tok, 128, 16, documents=docs, groups=plays, pair_task="nsp", seed=1234, **settings)
    return [make(step) for step in range(n)]


def test_masked_lm_figures_of_an_oracle_are_perfect(tok, held_out):
    docs, plays = held_out
    batches = _the_batches(tok, docs, plays, 2)
    answers = {_key(b["input_ids"]): torch.where(b["labels"] != IGNORE_INDEX, b["labels"], b["input_ids"])
               for b in batches}
    figures = ev.masked_lm_figures(Oracle(tok.vocab_size, answers), tok, docs, plays, batches=2, batch_size=16)
    for name in ("masked_accuracy", "accuracy", "kept_accuracy", "copy_accuracy"):
        assert figures[name] == 1.0, name
    assert figures["loss"] < 1e-6
    behind_mask = sum(int(((b["labels"] != IGNORE_INDEX) & (b["input_ids"] == tok.mask_id)).sum()) for b in batches)
    assert figures["masked_tokens"] == behind_mask > 0


def test_masked_lm_figures_of_a_constant_guess_are_the_unigram_share(tok, held_out):
    docs, plays = held_out
    batches = _the_batches(tok, docs, plays, 2)
    special = torch.tensor(sorted(tok.special_ids))
    answers, picked_labels, kept_labels, clean_tokens = Counter(), [], [], []
    for b in batches:
        picked = b["labels"] != IGNORE_INDEX
        answers.update(b["labels"][picked & (b["input_ids"] == tok.mask_id)].tolist())
        picked_labels += b["labels"][picked].tolist()
        kept_labels += b["labels"][picked & (b["input_ids"] == b["labels"])].tolist()
        clean = torch.where(picked, b["labels"], b["input_ids"])
        clean_tokens += clean[b["attention_mask"].bool() & ~torch.isin(clean, special)].tolist()
    commonest, count = answers.most_common(1)[0]
    figures = ev.masked_lm_figures(Constant(tok.vocab_size, commonest), tok, docs, plays, batches=2, batch_size=16)
    assert figures["masked_accuracy"] == pytest.approx(count / sum(answers.values()))
    assert figures["unigram_accuracy"] == pytest.approx(figures["masked_accuracy"])
    assert 0.01 < figures["masked_accuracy"] < 0.2  # the commonest token of English text: a few percent
    assert figures["accuracy"] == pytest.approx(picked_labels.count(commonest) / len(picked_labels))
    assert figures["kept_accuracy"] == pytest.approx(kept_labels.count(commonest) / len(kept_labels))
    assert figures["copy_accuracy"] == pytest.approx(clean_tokens.count(commonest) / len(clean_tokens))


def test_masked_lm_figures_on_windows_of_a_stream(tok, parts):
    ids = torch.tensor(tok.encode(parts["test"].text[:20000]))
    make = masked_lm_batches(tok, 32, 8, token_ids=ids, seed=1234, rate=0.3)
    batch = make(0)
    assert (batch["input_ids"][:, 0] == tok.cls_id).all() and (batch["input_ids"][:, -1] == tok.sep_id).all()
    answers = {_key(batch["input_ids"]): torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"],
                                                     batch["input_ids"])}
    figures = ev.masked_lm_figures(Oracle(tok.vocab_size, answers), tok, token_ids=ids, seq_len=32, batches=1,
                                   batch_size=8, rate=0.3)
    assert figures["masked_accuracy"] == figures["copy_accuracy"] == 1.0
    with pytest.raises(ValueError, match="either"):
        ev.masked_lm_figures(Oracle(tok.vocab_size, {}), tok)
    with pytest.raises(ValueError, match="either"):
        ev.masked_lm_figures(Oracle(tok.vocab_size, {}), tok, [[[5, 6], [7, 8]]], token_ids=ids)


def test_masked_lm_figures_grade_every_model_on_the_same_masks(tok, held_out):
    docs, plays = held_out
    torch.manual_seed(0)
    bert = lt.build(lt.configs.bert("tiny", vocab_size=tok.vocab_size, num_layers=1, hidden_size=32, num_heads=2,
                                    ffn_size=64))
    first = ev.masked_lm_figures(bert, tok, docs, plays, batches=1, batch_size=8)
    assert ev.masked_lm_figures(bert, tok, docs, plays, batches=1, batch_size=8) == first
    assert first["masked_accuracy"] < 0.05 and first["loss"] > 7.0  # about ln(4096) = 8.3: it knows nothing
    assert bert.training  # left in the mode it came in
    # The generator of an ELECTRA is graded the same way (it is the masked LM of the pair).
    electra = lt.build(lt.configs.electra("tiny", vocab_size=tok.vocab_size, num_layers=1, hidden_size=32,
                                          num_heads=2, ffn_size=64, embedding_size=16))
    assert 0 <= ev.masked_lm_figures(electra, tok, docs, plays, batches=1, batch_size=8)["masked_accuracy"] < 0.05


# --- pair heads ---------------------------------------------------------------------------------------------------

PAD, CLS, SEP = 0, 1, 2
PAIR_TOK = SimpleNamespace(pad_id=PAD, cls_id=CLS, sep_id=SEP)
# Token 1000 * (doc + 1) + 10 * seg + k tells where it came from; docs 0-2 are one play, 3-5 another.
DOCUMENTS = [[[1000 * (d + 1) + 10 * s + k for k in range(3 + (d + s) % 3)] for s in range(4)] for d in range(6)]
PLAYS = ["A"] * 3 + ["B"] * 3
CONSECUTIVE = {(tuple(doc[s]), tuple(doc[s + 1])) for doc in DOCUMENTS for s in range(len(doc) - 1)}


def _segments(ids, types, mask):
    ids, types = ids[mask.bool()].tolist(), types[mask.bool()].tolist()
    a = [t for t, s in zip(ids, types) if s == 0][1:-1]
    b = [t for t, s in zip(ids, types) if s == 1][:-1]
    return tuple(a), tuple(b)


class PairJudge(nn.Module):
    """A pair head that reads the documents: 0 (IsNext / in order) if B is the segment after A, else 1. With
    `always` it says that instead, but still records what the truth was."""

    def __init__(self, output="seq_relationship_logits", always=None):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.output, self.always, self.truth = output, always, []

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        truth = [0 if _segments(i, t, m) in CONSECUTIVE else 1
                 for i, t, m in zip(input_ids, token_type_ids, attention_mask)]
        self.truth += truth
        said = torch.tensor(truth if self.always is None else [self.always] * len(truth))
        return ModelOutput(**{self.output: nn.functional.one_hot(said, 2).float()})


@pytest.mark.parametrize("task", ["nsp", "sop"])
def test_pair_accuracy_of_an_oracle_and_of_a_constant_head(task):
    for output in ("seq_relationship_logits", "sop_logits"):  # either head is graded
        assert ev.pair_accuracy(PairJudge(output), PAIR_TOK, DOCUMENTS, PLAYS, task, pairs=100, seq_len=32) == 1.0
    says_zero = PairJudge(always=0)
    accuracy = ev.pair_accuracy(says_zero, PAIR_TOK, DOCUMENTS, PLAYS, task, pairs=100, seq_len=32)
    assert len(says_zero.truth) == 100
    assert accuracy == pytest.approx(says_zero.truth.count(0) / 100)
    assert 0.3 < accuracy < 0.7
    says_one = PairJudge(always=1)
    assert ev.pair_accuracy(says_one, PAIR_TOK, DOCUMENTS, PLAYS, task, pairs=100, seq_len=32) == pytest.approx(
        1 - accuracy)  # the same pairs for every model (the same seed)


def test_pair_accuracy_draws_notnext_from_another_play_and_rejects_other_tasks():
    seen = []

    class Recorder(PairJudge):
        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            seen.extend(_segments(i, t, m) for i, t, m in zip(input_ids, token_type_ids, attention_mask))
            return super().forward(input_ids, attention_mask, token_type_ids)

    ev.pair_accuracy(Recorder(), PAIR_TOK, DOCUMENTS, PLAYS, "nsp", pairs=200, seq_len=32)
    for a, b in seen:
        if (a, b) not in CONSECUTIVE:
            assert PLAYS[a[0] // 1000 - 1] != PLAYS[b[0] // 1000 - 1]
    with pytest.raises(ValueError, match="nsp"):
        ev.pair_accuracy(PairJudge(), PAIR_TOK, DOCUMENTS, PLAYS, "mlm")


# --- ROC AUC ------------------------------------------------------------------------------------------------------

def _auc_by_counting(scores, positive):
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0
             for p, n in itertools.product(scores[positive].tolist(), scores[~positive].tolist())]
    return sum(pairs) / len(pairs)


def test_roc_auc_agrees_with_counting_every_pair():
    assert ev.roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1])) == 1.0
    assert ev.roc_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), torch.tensor([0, 0, 1, 1])) == 0.0
    assert ev.roc_auc(torch.zeros(6), torch.tensor([0, 1, 0, 1, 0, 1])) == 0.5
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        scores = torch.randint(0, 6, (60,), generator=g).float()  # many ties
        positive = torch.rand(60, generator=g) < 0.3
        assert ev.roc_auc(scores, positive) == pytest.approx(_auc_by_counting(scores, positive))
        continuous = torch.randn(7, 9, generator=g)  # any shape: flattened
        labels = torch.rand(7, 9, generator=g) < 0.5
        assert ev.roc_auc(continuous, labels) == pytest.approx(_auc_by_counting(continuous.flatten(),
                                                                                labels.flatten()))
        # A ranking measure: any increasing transform of the scores gives the same AUC.
        assert ev.roc_auc(continuous.exp() * 3, labels) == pytest.approx(ev.roc_auc(continuous, labels))


def test_roc_auc_is_nan_without_both_classes():
    assert math.isnan(ev.roc_auc(torch.tensor([0.1, 0.5]), torch.tensor([1, 1])))
    assert math.isnan(ev.roc_auc(torch.tensor([0.1, 0.5]), torch.tensor([0, 0])))


# --- ELECTRA ------------------------------------------------------------------------------------------------------

def test_text_windows_are_framed_reproducible_slices(tok):
    stream = torch.arange(10, 1010)
    windows = ev.text_windows(tok, stream, count=12, seq_len=20, seed=5)
    assert windows.shape == (12, 20)
    assert (windows[:, 0] == tok.cls_id).all() and (windows[:, -1] == tok.sep_id).all()
    body = windows[:, 1:-1]
    assert (body[:, 1:] - body[:, :-1] == 1).all()  # contiguous text
    assert torch.equal(ev.text_windows(tok, stream, count=12, seq_len=20, seed=5), windows)
    assert not torch.equal(ev.text_windows(tok, stream, count=12, seq_len=20, seed=6), windows)


class FakeGenerator(nn.Module):
    """A masked LM that fills a [MASK] either with the original token (knows the text) or uniformly at random."""

    def __init__(self, vocab_size, original=None):
        super().__init__()
        self.vocab_size, self.original = vocab_size, original

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        if self.original is None:
            return ModelOutput(logits=torch.zeros(*input_ids.shape, self.vocab_size))
        return ModelOutput(logits=50.0 * nn.functional.one_hot(self.original, self.vocab_size).float())


class FakeDiscriminator(nn.Module):
    """Says "replaced" exactly where the input differs from the original text (an oracle), or a constant."""

    def __init__(self, original, constant=None):
        super().__init__()
        self.original, self.constant = original, constant

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        if self.constant is not None:
            return ModelOutput(logits=torch.full(input_ids.shape, float(self.constant)))
        return ModelOutput(logits=torch.where(input_ids != self.original, 5.0, -5.0))


class FakeElectra(nn.Module):
    def __init__(self, generator, discriminator):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.generator, self.discriminator = generator, discriminator


@pytest.fixture(scope="module")
def windows(tok, parts):
    return ev.text_windows(tok, tok.encode(parts["test"].text[:30000]), count=16, seq_len=48)


def test_detection_figures_of_an_oracle_discriminator(tok, windows):
    electra = FakeElectra(FakeGenerator(tok.vocab_size), FakeDiscriminator(windows))
    figures = ev.detection_figures(electra, tok, windows, seed=1)
    for name in ("auc_own", "auc_random", "recall_own", "recall_random", "precision_own", "precision_random"):
        assert figures[name] == 1.0, name
    # a uniform generator almost never guesses the original: nearly every masked token is replaced
    assert figures["generator_accuracy"] < 0.05 and figures["replaced_fraction"] > 0.95


def test_detection_figures_of_a_constant_discriminator_are_chance(tok, windows):
    electra = FakeElectra(FakeGenerator(tok.vocab_size), FakeDiscriminator(windows, constant=-1.0))
    figures = ev.detection_figures(electra, tok, windows, seed=1)
    assert figures["auc_own"] == figures["auc_random"] == 0.5
    assert figures["recall_own"] == figures["recall_random"] == 0.0  # it never says "replaced"
    assert math.isnan(figures["precision_own"])


def test_detection_figures_of_a_generator_that_knows_the_text(tok, windows):
    electra = FakeElectra(FakeGenerator(tok.vocab_size, original=windows), FakeDiscriminator(windows))
    figures = ev.detection_figures(electra, tok, windows, seed=1)
    assert figures["generator_accuracy"] == 1.0 and figures["replaced_fraction"] == 0.0
    assert math.isnan(figures["auc_own"])  # nothing was replaced: no ranking to measure
    assert figures["auc_random"] == 1.0    # the control still replaces tokens


def test_detection_figures_of_a_real_untrained_electra(tok, windows):
    torch.manual_seed(0)
    electra = lt.build(lt.configs.electra("tiny", vocab_size=tok.vocab_size, num_layers=1, hidden_size=32,
                                          num_heads=2, ffn_size=64, embedding_size=16, max_positions=64)).train()
    figures = ev.detection_figures(electra, tok, windows, seed=3)
    assert figures == ev.detection_figures(electra, tok, windows, seed=3)  # seeded, dropout off
    assert electra.training
    assert 0.2 < figures["auc_own"] < 0.8 and 0.2 < figures["auc_random"] < 0.8
    assert figures["replaced_fraction"] > 0.9


def test_mean_figures_average_each_number():
    reports = [{"a": 1.0, "b": 0.0}, {"a": 3.0, "b": 1.0}, {"a": 2.0, "b": 0.5}]
    assert ev.mean_figures(reports) == {"a": 2.0, "b": 0.5}
