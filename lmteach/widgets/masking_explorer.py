"""Lesson 02's masking explorer: see which tokens BERT's masked-LM corruption picks, and what it does to them.

    lt.widgets.MaskingExplorer(tokenizer)    # sliders for the rate and the [MASK]/random/kept mix, a seed,
                                             # whole-word masking; counts beside the expected counts

The corruption itself is `lmteach.objectives.mask_tokens` (BERT §3.1, Appendix C.2); this only draws it.
"""

from __future__ import annotations

import html

import ipywidgets as W
import torch

from ..i18n import N_, _
from ..objectives import Fate, expected_counts, mask_tokens

# One colour per fate, used in the sentence and in the counts table.
FATE_COLORS = {Fate.SPECIAL: "#e5e7eb", Fate.NOT_SELECTED: "#ffffff", Fate.MASKED: "#fca5a5",
               Fate.RANDOM: "#fcd34d", Fate.KEPT: "#93c5fd"}
# English message ids; shown with _() so they follow the lesson's language.
FATE_LABELS = {Fate.SPECIAL: N_("special (never picked)"), Fate.NOT_SELECTED: N_("not picked"),
               Fate.MASKED: N_("→ [MASK]"), Fate.RANDOM: N_("→ random token"), Fate.KEPT: N_("kept (still predicted)")}

DEFAULT_TEXT = ("Now is the winter of our discontent made glorious summer by this sun of York; and all the clouds "
                "that lour'd upon our house in the deep bosom of the ocean buried.")


def corrupt_text(tokenizer, text: str, rate: float = 0.15, mask_fraction: float = 0.8,
                 random_fraction: float = 0.1, whole_word: bool = False, seed: int = 0) -> dict:
    """Mask one sentence framed as [CLS] text [SEP]. Returns tokens before and after, each position's Fate,
    and the counts of each fate beside `expected_counts`."""
    ids = [tokenizer.cls_id, *tokenizer.encode(text), tokenizer.sep_id]
    input_ids = torch.tensor([ids])
    word_starts = torch.tensor([tokenizer.word_starts(ids)]) if whole_word else None
    masked = mask_tokens(input_ids, mask_id=tokenizer.mask_id, vocab_size=tokenizer.vocab_size,
                         special_ids=sorted(tokenizer.special_ids), rate=rate, mask_fraction=mask_fraction,
                         random_fraction=random_fraction, word_starts=word_starts,
                         generator=torch.Generator().manual_seed(seed))
    fates = [Fate(f) for f in masked.fate[0].tolist()]
    counts = {
        "selected": sum(f in (Fate.MASKED, Fate.RANDOM, Fate.KEPT) for f in fates),
        "masked": fates.count(Fate.MASKED), "random": fates.count(Fate.RANDOM), "kept": fates.count(Fate.KEPT),
        "not_selected": fates.count(Fate.NOT_SELECTED),
    }
    n_eligible = sum(f != Fate.SPECIAL for f in fates)
    return {"before": [tokenizer.id_to_token(i) for i in ids],
            "after": [tokenizer.id_to_token(i) for i in masked.input_ids[0].tolist()],
            "fates": fates, "counts": counts,
            "expected": expected_counts(n_eligible, rate, mask_fraction, random_fraction)}


def corruption_html(result: dict) -> str:
    """The sentence as chips coloured by fate: the input token on top, what the model sees below."""
    chips = []
    for before, after, fate in zip(result["before"], result["after"], result["fates"]):
        shown = html.escape(after) if after != before else "&nbsp;"
        chips.append(
            f'<span class="lmteach-fate-{fate.name.lower()}" title="{html.escape(_(FATE_LABELS[fate]))}" '
            f'style="display:inline-block;'
            f'margin:1px;padding:1px 4px;background:{FATE_COLORS[fate]};border:1px solid #999;border-radius:3px;'
            f'font-family:monospace;text-align:center">{html.escape(before)}'
            f'<br><small style="color:#7f1d1d">{shown}</small></span>')
    return "<div style='line-height:2.2'>" + "".join(chips) + "</div>"


def counts_html(result: dict) -> str:
    """A table: this draw's count of each fate beside the expected count."""
    rows = [("selected", N_("picked for prediction"), None), ("masked", FATE_LABELS[Fate.MASKED], Fate.MASKED),
            ("random", FATE_LABELS[Fate.RANDOM], Fate.RANDOM), ("kept", FATE_LABELS[Fate.KEPT], Fate.KEPT),
            ("not_selected", FATE_LABELS[Fate.NOT_SELECTED], Fate.NOT_SELECTED)]
    cells = []
    for key, label, fate in rows:
        colour = FATE_COLORS[fate] if fate is not None else "#f3f4f6"
        cells.append(f"<tr><td style='background:{colour};padding:0 6px'>{html.escape(_(label))}</td>"
                     f"<td style='text-align:right;padding:0 6px'>{result['counts'][key]}</td>"
                     f"<td style='text-align:right;padding:0 6px'>{result['expected'][key]:.2f}</td></tr>")
    this_draw, expected = html.escape(_("this draw")), html.escape(_("expected"))
    return (f"<table class='lmteach-mask-counts'><tr><th></th><th>{this_draw}</th><th>{expected}</th></tr>"
            + "".join(cells) + "</table><small>"
            + _("{n} real tokens (special tokens are never picked)").format(n=int(result["expected"]["eligible"]))
            + "</small>")


class MaskingExplorer:
    """Type a sentence; move the masking rate, the [MASK]/random share (the rest is kept) and the seed;
    toggle whole-word masking. Every control is a plain widget whose `.value` a test can set."""

    def __init__(self, tokenizer, text: str = DEFAULT_TEXT, rate: float = 0.15, seed: int = 0):
        self.tokenizer = tokenizer
        self.text = W.Textarea(value=text, description=_("text"), continuous_update=False,
                               layout=W.Layout(width="640px", height="56px"))
        self.rate = W.FloatSlider(value=rate, min=0.05, max=0.9, step=0.05, description=_("mask rate"),
                                  continuous_update=False, readout_format=".2f")
        self.mask_fraction = W.FloatSlider(value=0.8, min=0.0, max=1.0, step=0.05, description=_("[MASK] share"),
                                           continuous_update=False, readout_format=".2f")
        self.random_fraction = W.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.05, description=_("random share"),
                                             continuous_update=False, readout_format=".2f")
        self.whole_word = W.Checkbox(value=False, description=_("whole-word masking"))
        self.seed = W.IntText(value=seed, description=_("seed"), layout=W.Layout(width="160px"))
        self.mix_note = W.HTML()
        self.sentence = W.HTML()
        self.counts = W.HTML()
        for control in (self.text, self.rate, self.mask_fraction, self.random_fraction, self.whole_word, self.seed):
            control.observe(lambda _: self.update(), names="value")
        legend = " ".join(f"<span style='background:{FATE_COLORS[f]};border:1px solid #999;padding:0 4px'>"
                          f"{html.escape(_(FATE_LABELS[f]))}</span>" for f in FATE_COLORS)
        self.widget = W.VBox([
            self.text,
            W.HBox([self.rate, self.whole_word, self.seed]),
            W.HBox([self.mask_fraction, self.random_fraction, self.mix_note]),
            W.HTML(f"<small>{legend}; " + _("the small line shows what the model sees where it differs") + "</small>"),
            W.HBox([self.sentence, self.counts]),
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-masking-explorer")
        self.result: dict = {}
        self.update()

    def update(self):
        """Redraw from the controls (called on every change)."""
        mask_fraction = self.mask_fraction.value
        # The two shares cannot add to more than 1: the random share gives way to the [MASK] share.
        random_fraction = min(self.random_fraction.value, round(1.0 - mask_fraction, 6))
        kept = max(0.0, 1.0 - mask_fraction - random_fraction)
        capped = " " + _("(random share capped)") if random_fraction < self.random_fraction.value else ""
        self.mix_note.value = _("kept share {kept:.2f}").format(kept=kept) + capped
        if not self.text.value.strip():
            self.sentence.value, self.counts.value = "<i>" + _("type a sentence") + "</i>", ""
            return
        self.result = corrupt_text(self.tokenizer, self.text.value, self.rate.value, mask_fraction,
                                   random_fraction, self.whole_word.value, int(self.seed.value))
        self.sentence.value = corruption_html(self.result)
        self.counts.value = counts_html(self.result)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
