"""Lesson 02's pair builder: how BERT packs two segments into one input for next sentence prediction.

    lt.widgets.PairBuilder(tokenizer, documents)   # draw IsNext / NotNext pairs from a corpus, or type your own

The packing is `lmteach.objectives.build_pair` ([CLS] A [SEP] B [SEP], segment ids 0 then 1; BERT §3,
Figure 2); the IsNext / NotNext draw is `make_nsp_example` (§3.1 Task #2: B follows A half the time).
"""

from __future__ import annotations

import html
import random

import ipywidgets as W

from ..objectives import NSP_IS_NEXT, build_pair, make_nsp_example

SEGMENT_COLORS = {0: "#dbeafe", 1: "#fde68a"}  # segment A blue, segment B yellow
SPECIAL_BORDER = "2px solid #111"
LABEL_NAMES = {NSP_IS_NEXT: "IsNext", 1 - NSP_IS_NEXT: "NotNext"}


def pair_html(tokens: list[str], token_type_ids: list[int], special: set[str] = frozenset({"[CLS]", "[SEP]"})) -> str:
    """Tokens as chips coloured by segment, with the token_type_id under each; [CLS]/[SEP] outlined."""
    chips = []
    for token, segment in zip(tokens, token_type_ids):
        border = SPECIAL_BORDER if token in special else "1px solid #aaa"
        chips.append(f'<span class="lmteach-segment-{"ab"[segment]}" style="display:inline-block;margin:1px;'
                     f'padding:1px 4px;background:{SEGMENT_COLORS[segment]};border:{border};border-radius:3px;'
                     f'font-family:monospace;text-align:center">{html.escape(token)}'
                     f'<br><small style="color:#555">{segment}</small></span>')
    return "<div style='line-height:2.2'>" + "".join(chips) + "</div>"


def drawn_pair(tokenizer, documents, label: int, seed: int, max_len: int = 64) -> dict:
    """An NSP example of the wanted label (IsNext = 0 / NotNext = 1) from `documents` (lists of segments of
    token ids), drawn reproducibly from `seed`. Returns input_ids, token_type_ids, labels."""
    rng = random.Random(seed)
    points = [(d, s) for d, doc in enumerate(documents) for s in range(len(doc) - 1)]
    while True:  # make_nsp_example flips a fair coin for the label; draw until it shows the one asked for
        doc_index, seg_index = rng.choice(points)
        example = make_nsp_example(documents, doc_index, seg_index, rng, max_len, tokenizer.cls_id, tokenizer.sep_id)
        if example["labels"] == label:
            return example


class PairBuilder:
    """Draw IsNext / NotNext pairs from a corpus (or type A and B) and see the packed input:
    [CLS] A [SEP] B [SEP], coloured by segment, with the token_type_ids the segment embedding reads."""

    def __init__(self, tokenizer, documents, max_len: int = 64, model=None):
        self.tokenizer, self.documents, self.max_len, self.model = tokenizer, documents, max_len, model
        self.label = W.ToggleButtons(options=[("IsNext", NSP_IS_NEXT), ("NotNext", 1 - NSP_IS_NEXT)],
                                     value=NSP_IS_NEXT, description="pair")
        self.seed = W.IntText(value=0, description="seed", layout=W.Layout(width="160px"))
        self.text_a = W.Text(description="A", continuous_update=False, layout=W.Layout(width="640px"))
        self.text_b = W.Text(description="B", continuous_update=False, layout=W.Layout(width="640px"))
        self.output = W.HTML()
        self.verdict = W.HTML()
        self._drawing = False
        self.label.observe(lambda _: self.draw(), names="value")
        self.seed.observe(lambda _: self.draw(), names="value")
        self.text_a.observe(lambda _: self.typed(), names="value")
        self.text_b.observe(lambda _: self.typed(), names="value")
        self.widget = W.VBox([
            W.HBox([self.label, self.seed]), self.text_a, self.text_b,
            W.HTML("<small>segment A (token_type_id 0) in blue, segment B (1) in yellow; "
                   "[CLS] and [SEP] outlined</small>"),
            self.output, self.verdict,
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-pair-builder")
        self.example: dict = {}
        self.draw()

    def draw(self):
        """Draw a pair of the chosen kind from the corpus and fill the A and B boxes with it."""
        example = drawn_pair(self.tokenizer, self.documents, self.label.value, int(self.seed.value), self.max_len)
        ids, types = example["input_ids"], example["token_type_ids"]
        a = [i for i, t in zip(ids, types) if t == 0][1:-1]  # drop [CLS] and the first [SEP]
        b = [i for i, t in zip(ids, types) if t == 1][:-1]
        self._drawing = True  # filling the boxes must not count as the student typing
        self.text_a.value, self.text_b.value = self.tokenizer.decode(a), self.tokenizer.decode(b)
        self._drawing = False
        self.show(example, LABEL_NAMES[example["labels"]])

    def typed(self):
        """The student edited A or B: pack their text instead (no true label: the model may guess)."""
        if self._drawing or not (self.text_a.value.strip() and self.text_b.value.strip()):
            return
        example = build_pair(self.tokenizer.encode(self.text_a.value), self.tokenizer.encode(self.text_b.value),
                             max_len=self.max_len, cls_id=self.tokenizer.cls_id, sep_id=self.tokenizer.sep_id)
        self.show(example, "your own pair")

    def show(self, example: dict, label_text: str):
        self.example = example
        tokens = [self.tokenizer.id_to_token(i) for i in example["input_ids"]]
        self.output.value = (f"<b>{html.escape(label_text)}</b> · {len(tokens)} tokens"
                             + pair_html(tokens, example["token_type_ids"]))
        self.verdict.value = self._model_verdict(example) if self.model is not None else ""

    def _model_verdict(self, example: dict) -> str:
        import torch

        model = self.model
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = model(input_ids=torch.tensor([example["input_ids"]]),
                        token_type_ids=torch.tensor([example["token_type_ids"]]))
        model.train(was_training)
        p_is_next = float(out.seq_relationship_logits.softmax(-1)[0, NSP_IS_NEXT])
        return f"the model's NSP head: P(IsNext) = <b>{p_is_next:.2f}</b>"

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
