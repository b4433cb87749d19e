"""The attention explorer: pick a model, type a text, choose layer and head, and see where each token looks.

Draws offline (PNG heatmaps and an SVG link view, no scripts from the network). bertviz's richer views are
one call away (`explorer.bertviz()`), but they need the network for their JavaScript.

    explorer = lt.widgets.AttentionExplorer({"tiny BERT": (bert, tok), "MiniLM": lt.models.load_minilm()})
    explorer
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..analysis.attention import attention_links_svg, attention_maps, heads_png, png_html


class AttentionExplorer:
    """models: {name: (model, tokenizer)}. Every control is a plain widget with a value a test can set."""

    def __init__(self, models: dict, text: str = "the king is dead, long live the king", text_pair=None,
                 view: str = "heatmap"):
        if not models:
            raise ValueError("AttentionExplorer needs at least one model: {name: (model, tokenizer)}")
        self.models = models
        self._cache: dict = {}
        self.model_choice = W.Dropdown(options=list(models), description="model")
        self.text = W.Text(value=text, description="text", continuous_update=False,
                           layout=W.Layout(width="520px"))
        self.text_pair = W.Text(value=text_pair or "", description="sentence B", continuous_update=False,
                                placeholder="optional second sentence (BERT pairs)", layout=W.Layout(width="520px"))
        self.layer = W.IntSlider(value=0, min=0, max=0, description="layer", continuous_update=False)
        self.head = W.Dropdown(options=[("all heads", -1)], value=-1, description="head")
        self.view = W.ToggleButtons(options=["heatmap", "links"], value=view, description="view")
        self.info = W.HTML()
        self.output = W.HTML()
        self.output.add_class("lmteach-attention-view")
        for control in (self.model_choice, self.text, self.text_pair):
            control.observe(lambda _: self._model_or_text_changed(), names="value")
        for control in (self.layer, self.head, self.view):
            control.observe(lambda _: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.model_choice, self.view]), self.text, self.text_pair,
                              W.HBox([self.layer, self.head]), self.info, self.output])
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
        options = [("all heads", -1)] + [(f"head {h}", h) for h in range(maps.num_heads)]
        if list(self.head.options) != options:
            self.head.options = options
            self.head.value = -1
        self.render()

    def render(self):
        maps = self.maps
        layer, head = self.layer.value, self.head.value
        heads = list(range(maps.num_heads)) if head == -1 else [head]
        kind = "causal (each token sees only the left)" if maps.causal else "bidirectional (every token sees all)"
        self.info.value = (f"{len(maps.tokens)} tokens &middot; {maps.num_layers} layers &middot; "
                           f"{maps.num_heads} heads &middot; mask: <b>{kind}</b>")
        title = f"{html.escape(self.model_choice.value)}, layer {layer}"
        if self.view.value == "heatmap":
            self.output.value = png_html(heads_png(maps.weights[layer], maps.tokens, title, heads))
        else:
            self.output.value = attention_links_svg(maps.tokens, maps.weights[layer][heads], heads=heads)

    def bertviz(self, kind: str = "head"):
        """bertviz's head_view / model_view of the current text (needs the network for its scripts)."""
        from bertviz import head_view, model_view
        maps = self.maps
        view = head_view if kind == "head" else model_view
        return view(maps.as_bertviz(), maps.tokens)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
