"""The attention explorer: pick a model, type a text, choose layer and head, and see where each token looks.

Draws offline (PNG heatmaps and an SVG link view, no scripts from the network). bertviz's richer views are
one call away (`explorer.bertviz()`), but they need the network for their JavaScript.

    explorer = lt.widgets.AttentionExplorer({"tiny BERT": (bert, tok), "MiniLM": lt.models.load_minilm()})
    explorer

Two more views built on the same drawing:

    AttentionCompare({"GPT-1": (gpt, gpt_tok), "BERT": (bert, bert_tok)})  # lesson 03: side by side, one set of
                                                                          # layer/head controls for both
    ExtractAttention(classifier, tokenizer, label_names=["comedy", ...])  # lesson 01: where GPT-1's Extract looks
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..analysis.attention import (attention_links_svg, attention_maps, attention_on_later_tokens,
                                  extract_attention, extract_attention_png, heads_png, png_html)
from ..i18n import _


def mask_info_html(maps) -> str:
    """One line under a view: tokens, layers, heads, which mask, and the measured share of attention on later
    tokens (0 exactly under GPT's causal mask)."""
    kind = _("causal (each token sees only the left)") if maps.causal else \
        _("bidirectional (every token sees all)")
    later = attention_on_later_tokens(maps.weights)
    return _("{tokens} tokens &middot; {layers} layers &middot; {heads} heads &middot; mask: <b>{kind}</b> "
             "&middot; attention on later tokens: <b>{later:.1%}</b>").format(
        tokens=len(maps.tokens), layers=maps.num_layers, heads=maps.num_heads, kind=kind, later=later)


def attention_view_html(maps, layer: int, head: int, view: str, title: str, max_cols: int = 4) -> str:
    """One layer of `maps` as HTML: PNG heatmaps of all heads (head=-1) or one head, or the SVG link view."""
    heads = list(range(maps.num_heads)) if head == -1 else [head]
    if view == "heatmap":
        return png_html(heads_png(maps.weights[layer], maps.tokens, title, heads, max_cols=max_cols))
    return attention_links_svg(maps.tokens, maps.weights[layer][heads], heads=heads)


def _head_options(num_heads: int) -> list:
    return [(_("all heads"), -1)] + [(_("head {head}").format(head=h), h) for h in range(num_heads)]


class AttentionExplorer:
    """models: {name: (model, tokenizer)}. Every control is a plain widget with a value a test can set."""

    def __init__(self, models: dict, text: str = "the king is dead, long live the king", text_pair=None,
                 view: str = "heatmap"):
        if not models:
            raise ValueError("AttentionExplorer needs at least one model: {name: (model, tokenizer)}")
        self.models = models
        self._cache: dict = {}
        self.model_choice = W.Dropdown(options=list(models), description=_("model"))
        self.text = W.Text(value=text, description=_("text"), continuous_update=False,
                           layout=W.Layout(width="520px"))
        self.text_pair = W.Text(value=text_pair or "", description=_("sentence B"), continuous_update=False,
                                placeholder=_("optional second sentence (BERT pairs)"),
                                layout=W.Layout(width="520px"))
        self.layer = W.IntSlider(value=0, min=0, max=0, description=_("layer"), continuous_update=False)
        self.head = W.Dropdown(options=_head_options(1), value=-1, description=_("head"))
        self.view = W.ToggleButtons(options=[(_("heatmap"), "heatmap"), (_("links"), "links")], value=view,
                                    description=_("view"))
        self.info = W.HTML()
        self.output = W.HTML()
        self.output.add_class("lmteach-attention-view")
        for control in (self.model_choice, self.text, self.text_pair):
            control.observe(lambda _change: self._model_or_text_changed(), names="value")
        for control in (self.layer, self.head, self.view):
            control.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.model_choice, self.view]), self.text, self.text_pair,
                              W.HBox([self.layer, self.head]), self.info, self.output])
        self.widget.add_class("lmteach-attention-explorer")
        self._model_or_text_changed()

    @property
    def maps(self):
        """The attention maps of the current model and text (cached)."""
        key = (self.model_choice.value, self.text.value, self.text_pair.value)
        if key not in self._cache:
            model, tokenizer = self.models[self.model_choice.value]
            self._cache[key] = attention_maps(model, tokenizer, self.text.value, self.text_pair.value or None)
        return self._cache[key]

    def _model_or_text_changed(self):
        maps = self.maps
        with self.layer.hold_trait_notifications():
            self.layer.max = maps.num_layers - 1
            self.layer.value = min(self.layer.value, maps.num_layers - 1)
        options = _head_options(maps.num_heads)
        if list(self.head.options) != options:
            self.head.options = options
            self.head.value = -1
        self.render()

    def render(self):
        maps = self.maps
        self.info.value = mask_info_html(maps)
        title = _("{model}, layer {layer}").format(model=html.escape(self.model_choice.value),
                                                   layer=self.layer.value)
        self.output.value = attention_view_html(maps, self.layer.value, self.head.value, self.view.value, title)

    def bertviz(self, kind: str = "head"):
        """bertviz's head_view / model_view of the current text (needs the network for its scripts)."""
        from bertviz import head_view, model_view
        maps = self.maps
        view = head_view if kind == "head" else model_view
        return view(maps.as_bertviz(), maps.tokens)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class AttentionCompare:
    """Several models side by side on the same typed text, driven by ONE set of layer / head / view controls
    (lesson 03: GPT-1 next to BERT). Each side reads the text with its own tokenizer, so each shows its own tokens.
    Under each view: the mask and the measured share of attention on later tokens (GPT-1: 0, the causal mask's
    upper triangle is empty; BERT: more than 0).

    models: {name: (model, tokenizer)}, shown left to right. The layer slider goes up to the shallowest model's
    last layer and the head list to the fewest heads, so every setting exists on every side."""

    def __init__(self, models: dict, text: str = "the king is dead, long live the king", view: str = "heatmap"):
        if not models:
            raise ValueError("AttentionCompare needs models to compare: {name: (model, tokenizer)}")
        self.models = models
        self.maps: dict = {}
        self.text = W.Text(value=text, description=_("text"), continuous_update=False,
                           layout=W.Layout(width="520px"))
        self.layer = W.IntSlider(value=0, min=0, max=0, description=_("layer"), continuous_update=False)
        self.head = W.Dropdown(options=_head_options(1), value=-1, description=_("head"))
        self.view = W.ToggleButtons(options=[(_("heatmap"), "heatmap"), (_("links"), "links")], value=view,
                                    description=_("view"))
        self.infos = {name: W.HTML() for name in models}
        self.outputs = {name: W.HTML() for name in models}
        columns = []
        for name in models:
            self.outputs[name].add_class("lmteach-attention-view")
            column = W.VBox([W.HTML(f"<b>{html.escape(name)}</b>"), self.infos[name], self.outputs[name]],
                            layout=W.Layout(width=f"{100 / len(models):.0f}%"))
            column.add_class("lmteach-attention-side")
            columns.append(column)
        self.text.observe(lambda _change: self._text_changed(), names="value")
        for control in (self.layer, self.head, self.view):
            control.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([self.text, W.HBox([self.layer, self.head, self.view]), W.HBox(columns)])
        self.widget.add_class("lmteach-attention-compare")
        self._text_changed()

    def _text_changed(self):
        self.maps = {name: attention_maps(model, tokenizer, self.text.value)
                     for name, (model, tokenizer) in self.models.items()}
        layers = min(m.num_layers for m in self.maps.values())
        heads = min(m.num_heads for m in self.maps.values())
        with self.layer.hold_trait_notifications():
            self.layer.max = layers - 1
            self.layer.value = min(self.layer.value, layers - 1)
        options = _head_options(heads)
        if list(self.head.options) != options:
            self.head.options = options
            self.head.value = -1
        self.render()

    def render(self):
        max_cols = 2 if len(self.models) > 1 else 4
        for name, maps in self.maps.items():
            self.infos[name].value = mask_info_html(maps)
            title = _("{model}, layer {layer}").format(model=name, layer=self.layer.value)
            self.outputs[name].value = attention_view_html(maps, self.layer.value, self.head.value, self.view.value,
                                                           title, max_cols=max_cols)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class ExtractAttention:
    """Where a fine-tuned GPT-1 classifier's Extract token looks when it decides (GPT-1 §3.3: the classifier reads
    the last block's state at Extract, so Extract is the query that gathers what the task needs).

    Type a text; the view shows the classifier's answer and, for every layer and head, the Extract token's
    attention over the input tokens (`analysis.attention.extract_attention`). The head control shows all heads,
    their mean per layer, or one head. Models whose task reads two texts (entailment, similarity, multiple choice)
    get a second box, framed `Start text Delim second Extract`.

    model: a `Gpt1ForTask` (e.g. `lmteach.training.finetune.finetune(...).model`); tokenizer with GPT-1's specials;
    label_names: the task's label names, to name the answer (e.g. `data.tasks.task_info("genre")["label_names"]`)."""

    def __init__(self, model, tokenizer, text: str = "Good my lord, what news from the court?", text_pair=None,
                 label_names=None):
        self.model, self.tokenizer = model, tokenizer
        self.label_names = list(label_names) if label_names is not None else None
        self.found: dict = {}
        self.text = W.Text(value=text, description=_("text"), continuous_update=False,
                           layout=W.Layout(width="600px"))
        two_texts = getattr(model, "task", "classification") != "classification"
        self.text_pair = W.Text(value=text_pair or "", description=_("second text"), continuous_update=False,
                                layout=W.Layout(width="600px", display="" if two_texts else "none"))
        heads = model.cfg.num_heads
        self.head = W.Dropdown(options=[(_("all heads"), -1), (_("mean of heads"), "mean")] +
                               [(_("head {head}").format(head=h), h) for h in range(heads)],
                               value=-1, description=_("head"))
        self.decision = W.HTML()
        self.output = W.HTML()
        self.output.add_class("lmteach-extract-view")
        for control in (self.text, self.text_pair):
            control.observe(lambda _change: self._text_changed(), names="value")
        self.head.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([self.text, self.text_pair, self.head, self.decision, self.output])
        self.widget.add_class("lmteach-extract-attention")
        self._text_changed()

    def _text_changed(self):
        pair = (self.text_pair.value or None) if self.text_pair.layout.display != "none" else None
        try:
            self.found = extract_attention(self.model, self.tokenizer, self.text.value, pair)
        except ValueError as error:
            self.found = {}
            self.decision.value = f"<span style='color:#b91c1c'>{html.escape(str(error))}</span>"
            self.output.value = ""
            return
        probabilities = self.found["probabilities"]
        if probabilities is None:
            self.decision.value = ""
        else:
            names = self.label_names or [_("label {index}").format(index=i) for i in range(len(probabilities))]
            best = max(range(len(probabilities)), key=probabilities.__getitem__)
            shares = ", ".join(f"{html.escape(str(n))} {p:.0%}" for n, p in zip(names, probabilities))
            self.decision.value = _("the classifier says <b>{label}</b> ({shares}), reading the state at "
                                    "Extract").format(label=html.escape(str(names[best])), shares=shares)
        self.render()

    def render(self):
        if self.found:
            self.output.value = png_html(extract_attention_png(self.found, self.head.value))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
