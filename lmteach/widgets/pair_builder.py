"""The pair builder (lessons 02 and 05): how BERT packs two segments into one input for next sentence prediction,
and how ALBERT asks about their order instead.

    lt.widgets.PairBuilder(tokenizer, documents)               # draw IsNext / NotNext pairs, or type your own
    lt.widgets.PairBuilder(tokenizer, documents, task="sop")   # the same two segments in order or swapped

The packing is `lmteach.objectives.build_pair` ([CLS] A [SEP] B [SEP], segment ids 0 then 1; BERT §3,
Figure 2); the IsNext / NotNext draw is `make_nsp_example` (§3.1 Task #2: B follows A half the time), the
in order / swapped draw `make_sop_example` (ALBERT §3.1: two consecutive segments, swapped half the time).
"""

from __future__ import annotations

import html
import random

import ipywidgets as W

from ..i18n import N_, _
from ..objectives import NSP_IS_NEXT, SOP_IN_ORDER, build_pair, make_nsp_example, make_sop_example

SEGMENT_COLORS = {0: "#dbeafe", 1: "#fde68a"}  # segment A blue, segment B yellow
SPECIAL_BORDER = "2px solid #111"
LABEL_NAMES = {NSP_IS_NEXT: N_("IsNext"), 1 - NSP_IS_NEXT: N_("NotNext")}  # translated where shown
TASKS = ("nsp", "sop")


def label_names(task: str) -> dict[int, str]:
    """The two labels of a pair task, as shown: NSP's IsNext / NotNext, SOP's in order / swapped."""
    if task == "sop":
        return {SOP_IN_ORDER: _("in order"), 1 - SOP_IN_ORDER: _("swapped")}
    return {label: _(name) for label, name in LABEL_NAMES.items()}


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


def drawn_pair(tokenizer, documents, label: int, seed: int, max_len: int = 64, task: str = "nsp") -> dict:
    """An NSP example of the wanted label (IsNext = 0 / NotNext = 1) from `documents` (lists of segments of
    token ids), drawn reproducibly from `seed`. Returns input_ids, token_type_ids, labels.
    task="sop": an SOP example (in order = 0 / swapped = 1) of the segments the seed picks, so the two labels of
    one seed show the same two segments, once in order and once swapped."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    rng = random.Random(seed)
    points = [(d, s) for d, doc in enumerate(documents) for s in range(len(doc) - 1)]
    if task == "sop":
        doc_index, seg_index = rng.choice(points)
        while True:  # make_sop_example flips a fair coin for the order; flip until it shows the one asked for
            example = make_sop_example(documents, doc_index, seg_index, rng, max_len, tokenizer.cls_id,
                                       tokenizer.sep_id)
            if example["labels"] == label:
                return example
    while True:  # make_nsp_example flips a fair coin for the label; draw until it shows the one asked for
        doc_index, seg_index = rng.choice(points)
        example = make_nsp_example(documents, doc_index, seg_index, rng, max_len, tokenizer.cls_id, tokenizer.sep_id)
        if example["labels"] == label:
            return example


class PairBuilder:
    """Draw IsNext / NotNext pairs from a corpus (or type A and B) and see the packed input:
    [CLS] A [SEP] B [SEP], coloured by segment, with the token_type_ids the segment embedding reads.
    The NSP / SOP toggle switches to ALBERT's sentence-order pairs: the same two consecutive segments, in order
    or swapped. With a `model`, its pair head's verdict on the pair is shown (NSP or SOP, the head it has)."""

    def __init__(self, tokenizer, documents, max_len: int = 64, model=None, task: str = "nsp"):
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        self.tokenizer, self.documents, self.max_len, self.model = tokenizer, documents, max_len, model
        self.task = W.ToggleButtons(options=[(_("NSP (BERT)"), "nsp"), (_("SOP (ALBERT)"), "sop")], value=task,
                                    description=_("task"))
        self.label = W.ToggleButtons(options=self._label_options(task), value=0, description=_("pair"))
        self.seed = W.IntText(value=0, description=_("seed"), layout=W.Layout(width="160px"))
        self.text_a = W.Text(description="A", continuous_update=False, layout=W.Layout(width="640px"))
        self.text_b = W.Text(description="B", continuous_update=False, layout=W.Layout(width="640px"))
        self.output = W.HTML()
        self.verdict = W.HTML()
        self._drawing = False
        self.task.observe(lambda _change: self.switch_task(), names="value")
        self.label.observe(lambda _change: self.draw(), names="value")
        self.seed.observe(lambda _change: self.draw(), names="value")
        self.text_a.observe(lambda _change: self.typed(), names="value")
        self.text_b.observe(lambda _change: self.typed(), names="value")
        self.widget = W.VBox([
            self.task, W.HBox([self.label, self.seed]), self.text_a, self.text_b,
            W.HTML("<small>" + _("segment A (token_type_id 0) in blue, segment B (1) in yellow; "
                                 "[CLS] and [SEP] outlined") + "</small>"),
            self.output, self.verdict,
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-pair-builder")
        self.example: dict = {}
        self.draw()

    @staticmethod
    def _label_options(task: str) -> list[tuple[str, int]]:
        return [(name, label) for label, name in label_names(task).items()]

    def switch_task(self):
        """NSP <-> SOP: relabel the pair buttons (label 0 is IsNext / in order) and draw a pair of the new task."""
        self._drawing = True  # changing the buttons' options must not draw a pair of the old task
        value = self.label.value
        self.label.options = self._label_options(self.task.value)
        self.label.value = value
        self._drawing = False
        self.draw()

    def draw(self):
        """Draw a pair of the chosen kind from the corpus and fill the A and B boxes with it."""
        if self._drawing:
            return
        task = self.task.value
        example = drawn_pair(self.tokenizer, self.documents, self.label.value, int(self.seed.value), self.max_len,
                             task=task)
        ids, types = example["input_ids"], example["token_type_ids"]
        a = [i for i, t in zip(ids, types) if t == 0][1:-1]  # drop [CLS] and the first [SEP]
        b = [i for i, t in zip(ids, types) if t == 1][:-1]
        self._drawing = True  # filling the boxes must not count as the student typing
        self.text_a.value, self.text_b.value = self.tokenizer.decode(a), self.tokenizer.decode(b)
        self._drawing = False
        label = label_names(task)[example["labels"]]
        if task == "sop":
            label += " · " + (_("A comes first in the text") if example["labels"] == SOP_IN_ORDER
                              else _("B comes first in the text"))
        self.show(example, label)

    def typed(self):
        """The student edited A or B: pack their text instead (no true label: the model may guess)."""
        if self._drawing or not (self.text_a.value.strip() and self.text_b.value.strip()):
            return
        example = build_pair(self.tokenizer.encode(self.text_a.value), self.tokenizer.encode(self.text_b.value),
                             max_len=self.max_len, cls_id=self.tokenizer.cls_id, sep_id=self.tokenizer.sep_id)
        self.show(example, _("your own pair"))

    def show(self, example: dict, label_text: str):
        self.example = example
        tokens = [self.tokenizer.id_to_token(i) for i in example["input_ids"]]
        self.output.value = (f"<b>{html.escape(label_text)}</b> · "
                             + html.escape(_("{n} tokens").format(n=len(tokens)))
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
        sop_logits = getattr(out, "sop_logits", None)
        if sop_logits is not None:  # label 0 is "in order" (SOP_IN_ORDER)
            p_in_order = float(sop_logits.softmax(-1)[0, SOP_IN_ORDER])
            return (html.escape(_("the model's SOP head: P(in order) =")) + f" <b>{p_in_order:.2f}</b>")
        p_is_next = float(out.seq_relationship_logits.softmax(-1)[0, NSP_IS_NEXT])
        return html.escape(_("the model's NSP head: P(IsNext) =")) + f" <b>{p_is_next:.2f}</b>"

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
