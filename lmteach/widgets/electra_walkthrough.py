"""Lesson 06's replaced-token walk-through: one sentence through ELECTRA's pretraining step (Clark et al. 2020,
§2, Figure 2), one row of tokens per stage.

    lt.widgets.ElectraWalkthrough({0.25: electra_model}, tokenizer)

Rows: the original text; the masked input the generator reads; the generator's samples put back (the
discriminator's input); the discriminator's probability that each token was replaced, as a colour. Sliders:
mask rate, generator size (a fraction of the discriminator; a size without a trained model gets a freshly built,
untrained generator beside the trained discriminator), the generator's sampling temperature (1 in the paper; a
higher one makes its samples wilder, so easier to spot), λ (the discriminator loss weight) and the seed.
The step itself is `lmteach.objectives.replaced_token_detection`; this only draws it.
"""

from __future__ import annotations

import html

import ipywidgets as W
import torch

from ..i18n import N_, _
from ..lessons.electra import with_generator_size
from ..objectives import replaced_token_detection

DEFAULT_TEXT = ("Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him. "
                "The evil that men do lives after them.")
GENERATOR_SIZES = (0.125, 0.25, 0.5, 1.0)
# The rows' names, translated where they are drawn.
STAGES = (N_("original"), N_("masked (generator input)"), N_("sampled (discriminator input)"), N_("P(replaced)"))


def walk_through(model, tokenizer, text: str, rate: float = 0.15, disc_weight: float = 50.0,
                 seed: int = 0, temperature: float = 1.0) -> dict:
    """One ELECTRA step on `text` framed as [CLS] text [SEP], dropout off. Returns the tokens of each stage,
    per position: masked?, replaced?, P(replaced); and the loss parts."""
    ids = torch.tensor([[tokenizer.cls_id, *tokenizer.encode(text), tokenizer.sep_id]])
    was_training = model.training
    model.eval()
    with torch.no_grad():
        step = replaced_token_detection(model.generator, model.discriminator, ids, mask_id=tokenizer.mask_id,
                                        vocab_size=tokenizer.vocab_size, special_ids=sorted(tokenizer.special_ids),
                                        rate=rate, disc_weight=disc_weight, temperature=temperature,
                                        rng=torch.Generator().manual_seed(seed))
    model.train(was_training)

    def tokens(row):
        return [tokenizer.id_to_token(i) for i in row[0].tolist()]

    return {"original": tokens(step.original_ids), "masked": tokens(step.masked_ids),
            "sampled": tokens(step.corrupted_ids), "is_masked": step.masked_positions[0].tolist(),
            "is_replaced": step.is_replaced[0].tolist(),
            "p_replaced": torch.sigmoid(step.discriminator_logits[0]).tolist(),
            "generator_loss": step.generator_loss.item(), "discriminator_loss": step.discriminator_loss.item(),
            "disc_weight": disc_weight, "loss": step.loss.item()}


def _chip(token: str, background: str = "#ffffff", border: str = "#999", title: str = "", css: str = "") -> str:
    return (f'<span class="{css}" title="{html.escape(title)}" style="display:inline-block;margin:1px;'
            f'padding:1px 4px;background:{background};border:2px solid {border};border-radius:3px;'
            f'font-family:monospace">{html.escape(token)}</span>')


def _red(p: float) -> str:
    """White (0) to red (1): the discriminator's P(replaced)."""
    fade = int(255 * (1.0 - p))
    return f"rgb(255,{fade},{fade})"


def strips_html(result: dict) -> str:
    """Four rows of token chips, one per stage. Masked positions are yellow in rows 2-3; in row 4 the colour is
    P(replaced) and a thick black border marks the tokens that really were replaced."""
    rows = []
    for stage, key in zip(STAGES, ("original", "masked", "sampled", "p_replaced")):
        chips = []
        for i, token in enumerate(result["original"]):
            masked, replaced = result["is_masked"][i], result["is_replaced"][i]
            if key == "original":
                chips.append(_chip(token))
            elif key == "masked":
                chips.append(_chip(result["masked"][i], "#fde68a" if masked else "#ffffff"))
            elif key == "sampled":
                same = _("sample = original: counts as original") if masked and not replaced else ""
                chips.append(_chip(result["sampled"][i], "#fde68a" if masked else "#ffffff", title=same))
            else:
                p = result["p_replaced"][i]
                chips.append(_chip(result["sampled"][i], _red(p), "#000" if replaced else "#ccc",
                                   title=(_("P(replaced) = {p:.2f} (really replaced)") if replaced
                                          else _("P(replaced) = {p:.2f}")).format(p=p),
                                   css="lmteach-replaced" if replaced else "lmteach-original"))
        rows.append(f"<tr><td style='padding-right:8px;white-space:nowrap'><b>{html.escape(_(stage))}</b></td>"
                    f"<td style='line-height:2'>{''.join(chips)}</td></tr>")
    return "<table class='lmteach-electra-strips'>" + "".join(rows) + "</table>"


def losses_html(result: dict) -> str:
    """The loss parts of ELECTRA §2: L_MLM(generator) + λ · L_Disc."""
    weighted = result["disc_weight"] * result["discriminator_loss"]
    rows = ((_("generator (MLM) loss"), f"{result['generator_loss']:.3f}"),
            (_("discriminator loss"), f"{result['discriminator_loss']:.3f}"),
            (_("λ × discriminator loss (λ = {weight})").format(weight=f"{result['disc_weight']:g}"),
             f"{weighted:.3f}"))
    return ("<table class='lmteach-electra-losses'>"
            + "".join(f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{value}</td></tr>"
                      for name, value in rows)
            + f"<tr><td><b>{html.escape(_('total'))}</b></td><td style='text-align:right'><b>{result['loss']:.3f}</b>"
              "</td></tr></table>")


class ElectraWalkthrough:
    """Type a sentence; move the mask rate, the generator size, its temperature, λ and the seed; see every stage of
    ELECTRA's
    pretraining step and the loss parts. Every control is a plain widget whose `.value` a test can set.

    models: {generator fraction: Electra model}; other sizes on the slider are built on demand from the first
    model's discriminator with an untrained generator (said so under the strips)."""

    def __init__(self, models: dict, tokenizer, text: str = DEFAULT_TEXT, rate: float = 0.15,
                 disc_weight: float = 50.0, seed: int = 0, temperature: float = 1.0):
        if not models:
            raise ValueError("give at least one trained Electra model: {generator_fraction: model}")
        self.tokenizer = tokenizer
        self.trained = {float(f): m for f, m in models.items()}
        self.models = dict(self.trained)
        sizes = sorted(set(GENERATOR_SIZES) | set(self.trained))
        first = next(iter(self.trained))
        self.text = W.Textarea(value=text, description=_("text"), continuous_update=False,
                               layout=W.Layout(width="640px", height="56px"))
        self.rate = W.FloatSlider(value=rate, min=0.05, max=0.6, step=0.05, description=_("mask rate"),
                                  continuous_update=False, readout_format=".2f")
        self.generator_size = W.SelectionSlider(options=[(f"{f:g}", f) for f in sizes], value=first,
                                                description=_("generator"), continuous_update=False)
        self.disc_weight = W.FloatSlider(value=disc_weight, min=0.0, max=100.0, step=1.0, description="λ",
                                         continuous_update=False, readout_format=".0f")
        self.temperature = W.FloatSlider(value=temperature, min=0.5, max=5.0, step=0.5,
                                         description=_("temperature"), continuous_update=False,
                                         readout_format=".1f")
        self.seed = W.IntText(value=seed, description=_("seed"), layout=W.Layout(width="160px"))
        self.strips = W.HTML()
        self.losses = W.HTML()
        self.note = W.HTML()
        for control in (self.text, self.rate, self.generator_size, self.temperature, self.disc_weight, self.seed):
            control.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([
            self.text,
            W.HBox([self.rate, self.generator_size, self.temperature]),
            W.HBox([self.disc_weight, self.seed]),
            W.HTML("<small>" + html.escape(_("yellow: masked positions; last row: white = sure it is original, "
                                             "red = sure it was replaced; black border = really replaced"))
                   + "</small>"),
            self.strips, W.HBox([self.losses, self.note]),
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-electra-walkthrough")
        self.result: dict = {}
        self.update()

    def model_for(self, fraction: float):
        """The model with this generator size: a trained one if given, else built once and kept."""
        if fraction not in self.models:
            base = self.trained[next(iter(self.trained))]
            self.models[fraction] = with_generator_size(base, fraction)
        return self.models[fraction]

    def update(self):
        """Redraw from the controls (called on every change)."""
        if not self.text.value.strip():
            self.strips.value = "<i>" + html.escape(_("type a sentence")) + "</i>"
            self.losses.value = self.note.value = ""
            return
        fraction = self.generator_size.value
        model = self.model_for(fraction)
        self.result = walk_through(model, self.tokenizer, self.text.value, self.rate.value, self.disc_weight.value,
                                   int(self.seed.value), self.temperature.value)
        self.strips.value = strips_html(self.result)
        self.losses.value = losses_html(self.result)
        masked = sum(self.result["is_masked"])
        replaced = sum(self.result["is_replaced"])
        note = "<small>" + html.escape(_(
            "generator: {fraction} × the discriminator's width. {masked} masked, {replaced} replaced (a sample "
            "equal to the original counts as original).").format(fraction=f"{fraction:g}", masked=masked,
                                                                  replaced=replaced))
        if fraction not in self.trained:
            note += " " + _("<b>This generator size was not trained</b>: a fresh generator samples almost at random, "
                            "so its replacements are easy to spot; the discriminator is the trained one.")
        self.note.value = note + "</small>"

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
