"""Fill the blank with both models (lesson 03): GPT-1's guesses from the left, BERT's from both sides, the
measurement of how much BERT needs its right side, and the FillBlank widget driven the way typing drives it.

The models are small random ones with the two real tokenizers (GPT-1: byte-level BPE, BERT: WordPiece), so the
checks are exact and fast; one test runs the shipped checkpoints when they are there."""

from pathlib import Path

import pytest
import torch

import lmteach as lt
from lmteach.analysis import blanks as B
from lmteach.data.tokenization import load_default
from lmteach.widgets import FillBlank

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "checkpoints"

SENTENCES = [
    "my good lord, the king is gone to bed and will not wake till morning.",
    "I pray you, sir, tell me what news there is from the court today.",
    "the queen is dead, and all the house of York weeps in the hall.",
    "we shall go to the field at dawn and fight for England and the king.",
    "he is not here, but he will come again when the night is done.",
    "give me your hand, and I will lead you to the gates of the city.",
]


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    tokenizer = load_default("byte_bpe", gpt1_specials=True)
    cfg = lt.configs.gpt1("tiny", vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=2,
                          ffn_size=64, max_positions=48)
    return lt.build(cfg).eval(), tokenizer


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(1)
    tokenizer = load_default("wordpiece")
    cfg = lt.configs.bert("tiny", vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=2,
                          ffn_size=64, max_positions=48)
    return lt.build(cfg).eval(), tokenizer


def test_split_blank_accepts_underscores_or_mask_and_exactly_one():
    assert B.split_blank("the ___ of denmark") == ("the ", " of denmark")
    assert B.split_blank("the [MASK] of denmark") == ("the ", " of denmark")
    assert B.split_blank("__ is dead") == ("", " is dead")
    with pytest.raises(ValueError, match="where the missing word goes"):
        B.split_blank("the king is dead")
    with pytest.raises(ValueError, match="one blank only"):
        B.split_blank("the ___ of ___")
    with pytest.raises(ValueError, match="one blank only"):
        B.split_blank("the [MASK] of ___")


@torch.no_grad()
def test_left_to_right_guess_is_the_softmax_at_the_last_left_token(gpt):
    model, tok = gpt
    guess = B.guess_blank_left_to_right(model, tok, "my good ___, what news from the court?", k=7)
    ids = tok.encode("my good")                 # the trailing space belongs to the guessed token (" lord")
    probs = model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)
    best = torch.topk(probs, 7)
    assert guess.read == [tok.decode([i]) for i in ids] and guess.position == len(ids) - 1
    assert [g[0] for g in guess.guesses] == [tok.decode([int(i)]) for i in best.indices]
    assert [g[1] for g in guess.guesses] == pytest.approx(best.values.tolist(), abs=1e-6)
    assert guess.unseen == ", what news from the court?"
    # Byte-level BPE pieces keep their space: the guess " lord" is one token that starts a new word.
    lord = tok.encode("my good lord")[-1]
    assert B.token_text(tok, lord) == " lord"


def test_left_to_right_ignores_the_right_side_and_both_sides_does_not(gpt, bert):
    texts = ["the ___ of denmark is dead.", "the ___ of the feast is ready."]
    gpt_guesses = [B.guess_blank_left_to_right(*gpt, t, k=5) for t in texts]
    bert_guesses = [B.guess_blank_both_sides(*bert, t, k=5) for t in texts]
    assert gpt_guesses[0].guesses == gpt_guesses[1].guesses        # GPT-1 never reads the right side
    assert bert_guesses[0].guesses != bert_guesses[1].guesses      # BERT does
    assert gpt_guesses[0].unseen != gpt_guesses[1].unseen


@torch.no_grad()
def test_both_sides_guess_is_the_softmax_at_mask(bert):
    model, tok = bert
    guess = B.guess_blank_both_sides(model, tok, "my good ___, what news from the court?", k=6)
    ids = [tok.cls_id, *tok.encode("my good"), tok.mask_id, *tok.encode(", what news from the court?"), tok.sep_id]
    assert guess.read == [tok.id_to_token(i) for i in ids]
    assert guess.position == ids.index(tok.mask_id) and guess.read[guess.position] == "[MASK]"
    probs = model(input_ids=torch.tensor([ids])).prediction_logits[0, guess.position].softmax(-1)
    best = torch.topk(probs, 6)
    assert [g[0] for g in guess.guesses] == [tok.id_to_token(int(i)) for i in best.indices]
    assert [g[1] for g in guess.guesses] == pytest.approx(best.values.tolist(), abs=1e-6)
    # "[MASK]" as the blank gives the same guesses as "___".
    assert B.guess_blank_both_sides(model, tok, "my good [MASK], what news from the court?", k=6).guesses == \
        guess.guesses


def test_guessing_says_what_is_wrong(gpt, bert):
    with pytest.raises(ValueError, match="before the blank"):
        B.guess_blank_left_to_right(*gpt, "___ is dead")
    with pytest.raises(ValueError, match="causal"):
        B.guess_blank_left_to_right(bert[0], bert[1], "the ___ is dead")
    with pytest.raises(ValueError, match="masked-LM head"):
        B.guess_blank_both_sides(gpt[0], bert[1], "the ___ is dead")
    assert B.guess_blank_both_sides(*bert, "___ is dead").position == 1     # BERT still has the right side


def test_blank_examples_hide_one_token_middle_words(gpt, bert):
    tokenizers = {"gpt1": gpt[1], "bert": bert[1]}
    blanks = B.blank_examples(SENTENCES, tokenizers, n=10, seed=0)
    assert len(blanks) == len(SENTENCES)          # each of these sentences has a short lowercase middle word
    for blank in blanks:
        assert blank.left + " " + blank.word + blank.right == blank.text
        words = blank.text.split()
        assert len(blank.left.split()) >= 3 and len(blank.right.split()) >= 3
        assert abs(len(blank.left.split()) - len(words) // 2) <= 2
        for name, tok in tokenizers.items():
            left_ids, word_id, right_ids = blank.ids[name]
            assert tok.encode(f"{blank.left} {blank.word}") == [*left_ids, word_id]
            assert right_ids == tok.encode(blank.right.strip())
    assert B.token_text(gpt[1], blanks[0].ids["gpt1"][1]) == " " + blanks[0].word
    assert [b.text for b in B.blank_examples(SENTENCES, tokenizers, n=3, seed=0)] == [b.text for b in blanks[:3]]
    assert [b.text for b in B.blank_examples(SENTENCES, tokenizers, n=6, seed=1)] != [b.text for b in blanks]


@torch.no_grad()
def test_blank_scores_match_direct_forward_passes(gpt, bert):
    (gpt_model, gpt_tok), (bert_model, bert_tok) = gpt, bert
    blanks = B.blank_examples(SENTENCES, {"gpt1": gpt_tok, "bert": bert_tok}, n=6, seed=0)
    scores = B.blank_scores(gpt_model, gpt_tok, bert_model, bert_tok, blanks, batch_size=4)  # two batches
    for i, blank in enumerate(blanks):
        left, word, right = blank.ids["gpt1"]
        logprobs = gpt_model(input_ids=torch.tensor([left])).logits[0, -1].log_softmax(-1)
        assert float(scores["gpt1"]["logprob"][i]) == pytest.approx(float(logprobs[word]), abs=1e-4)
        assert int(scores["gpt1"]["rank"][i]) == int((logprobs > logprobs[word]).sum())
        left, word, right = blank.ids["bert"]
        other = blanks[(i + 1) % len(blanks)].ids["bert"][2]
        for reader, side in (("bert", right), ("bert_other_right", other)):
            ids = [bert_tok.cls_id, *left, bert_tok.mask_id, *side, bert_tok.sep_id]
            logits = bert_model(input_ids=torch.tensor([ids])).prediction_logits[0, len(left) + 1]
            assert float(scores[reader]["logprob"][i]) == pytest.approx(float(logits.log_softmax(-1)[word]),
                                                                       abs=1e-4)
            assert int(scores[reader]["rank"][i]) == int((logits > logits[word]).sum())
    assert not torch.equal(scores["bert"]["logprob"], scores["bert_other_right"]["logprob"])


def test_blank_accuracy_reports_each_reader_and_its_control(gpt, bert):
    result = B.blank_accuracy(*gpt, *bert, texts=SENTENCES, n=6, seed=0)
    assert result["blanks"] == 6 and result["seed"] == 0
    for reader in ("gpt1", "bert", "bert_other_right"):
        assert 0 <= result[reader]["top1"] <= result[reader]["top5"] <= 1
        assert result[reader]["mean_logprob"] < 0
    assert result["right_side_gain"] == pytest.approx(
        result["bert"]["mean_logprob"] - result["bert_other_right"]["mean_logprob"])
    # The control's plumbing: when every blank's right side is the same, swapping it changes nothing.
    same = B.blank_accuracy(*gpt, *bert, texts=[SENTENCES[0]] * 4, n=4, seed=0)
    assert same["right_side_gain"] == 0.0 and same["bert"] == same["bert_other_right"]
    with pytest.raises(ValueError, match="causal"):
        B.blank_accuracy(*bert, *gpt, texts=SENTENCES, n=2)


def test_shipped_bert_needs_its_right_side():
    """The lesson's claim on held-out plays with the shipped models (a loose bound: the checkpoints get
    retrained; measured 1.5 nats on 300 blanks)."""
    gpt, gpt_info = lt.training.load_checkpoint(CHECKPOINTS / "gpt1-tiny")
    bert, bert_info = lt.training.load_checkpoint(CHECKPOINTS / "bert-tiny")
    result = B.blank_accuracy(gpt.float(), gpt_info["tokenizer_obj"], bert.float(), bert_info["tokenizer_obj"],
                              n=100, seed=0)
    assert result["blanks"] == 100
    assert result["right_side_gain"] > 0.2
    assert result["bert"]["top5"] > result["bert_other_right"]["top5"]


def test_fill_blank_widget_follows_typing(gpt, bert):
    widget = FillBlank(gpt, bert, text="my good ___, what news from the court?", top_k=5)
    assert widget.text.continuous_update                       # every keystroke reaches the kernel
    first_gpt, first_bert = widget.gpt_guess.guesses, widget.bert_guess.guesses
    assert len(first_gpt) == len(first_bert) == 5
    assert "·" in widget.gpt_view.value                         # BPE pieces show their space
    assert "[MASK]" in widget.bert_view.value and "lmteach-unseen" in widget.gpt_view.value

    widget.text.value = "my good ___, what news from the camp?"    # only the right side changed
    assert widget.gpt_guess.guesses == first_gpt and widget.bert_guess.guesses != first_bert
    widget.text.value = "the king and ___, what news from the camp?"   # the left side changed
    assert widget.gpt_guess.guesses != first_gpt
    html_before = widget.bert_view.value
    widget.top_k.value = 3
    assert len(widget.gpt_guess.guesses) == len(widget.bert_guess.guesses) == 3
    assert widget.bert_view.value != html_before

    widget.text.value = "my good lord"                                 # no blank: both sides say so
    assert widget.gpt_guess is None and widget.bert_guess is None
    assert "missing word" in widget.gpt_view.value and "missing word" in widget.bert_view.value
    widget.text.value = "___ is dead"                                 # nothing left of it: only BERT guesses
    assert widget.gpt_guess is None and "before the blank" in widget.gpt_view.value
    assert widget.bert_guess is not None and len(widget.bert_guess.guesses) == 3
