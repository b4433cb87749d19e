"""Lesson 00's tokenizer widgets: three tokenizers side by side on any text, and BPE merges one at a time.

    lt.widgets.TokenizerComparison()          # type any text, Korean and emoji included
    lt.widgets.BPEStepper(text, num_merges=200)
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..data.bpe import readable, train_bpe
from ..data.tokenization import load_default

KINDS = ("char", "byte_bpe", "wordpiece")
TITLES = {"char": "character", "byte_bpe": "byte-level BPE (GPT-2)", "wordpiece": "WordPiece (BERT)"}
_PALETTE = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa"]


def token_strip_html(pieces: list[str], ids: list[int] | None = None, unknown: str | None = None,
                     highlight: set[int] = frozenset()) -> str:
    """Tokens as coloured chips with their ids underneath; unknown tokens in red."""
    chips = []
    for i, piece in enumerate(pieces):
        is_unknown = unknown is not None and piece == unknown
        color = "#fca5a5" if is_unknown else _PALETTE[i % len(_PALETTE)]
        border = "2px solid #111" if i in highlight else "1px solid #aaa"
        label = html.escape(piece).replace(" ", "␣").replace("\n", "⏎") or "∅"
        id_line = f'<br><small style="color:#555">{ids[i]}</small>' if ids is not None else ""
        chips.append(f'<span class="lmteach-token{" lmteach-unk" if is_unknown else ""}" style="display:inline-block;'
                     f'margin:1px;padding:1px 4px;background:{color};border:{border};border-radius:3px;'
                     f'font-family:monospace;text-align:center">{label}{id_line}</span>')
    return "".join(chips)


def _byte_of_symbol() -> dict[str, int]:
    """GPT-2's byte-level alphabet: each byte is shown as one printable character (printable ASCII and
    Latin-1 stand for themselves; the other bytes are shifted to code points from 256 up)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, shift = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[chr(byte)] = byte
        else:
            symbols[chr(256 + shift)] = byte
            shift += 1
    return symbols


_BYTE_OF_SYMBOL = _byte_of_symbol()


def byte_piece(token: str) -> str:
    """A byte-level token as text, or as its raw bytes (e.g. <EC 82>) when it is only part of a character."""
    text = readable(token)
    if "\ufffd" not in text:
        return text
    return "<" + " ".join(f"{_BYTE_OF_SYMBOL[ch]:02X}" for ch in token if ch in _BYTE_OF_SYMBOL) + ">"


def describe_tokenization(tokenizer, text: str) -> dict:
    """What a tokenizer makes of a text: display pieces, ids, how many are unknown, and the round trip."""
    ids = tokenizer.encode(text)
    pieces = [tokenizer.id_to_token(i) for i in ids]
    if tokenizer.kind == "byte_bpe":
        pieces = [byte_piece(p) for p in pieces]  # show bytes as text: 'Ġthe' is ' the'
    unk = tokenizer.id_to_token(tokenizer.unk_id) if tokenizer.unk_id is not None else None
    return {"ids": ids, "pieces": pieces, "unknown": unk,
            "unknown_count": sum(1 for i in ids if tokenizer.unk_id is not None and i == tokenizer.unk_id),
            "decoded": tokenizer.decode(ids), "vocab_size": tokenizer.vocab_size}


class TokenizerComparison:
    """Type any text; see character, byte-level BPE and WordPiece tokens and ids side by side."""

    def __init__(self, text: str = "To be, or not to be: 사느냐 죽느냐 🙂", tokenizers: dict | None = None):
        self.tokenizers = tokenizers or {kind: load_default(kind) for kind in KINDS}
        self.text = W.Textarea(value=text, description="text", continuous_update=False,
                               layout=W.Layout(width="640px", height="60px"))
        self.rows = {kind: W.HTML() for kind in self.tokenizers}
        self.text.observe(lambda _: self.render(), names="value")
        self.widget = W.VBox([self.text] + list(self.rows.values()))
        self.widget.add_class("lmteach-tokenizers")
        self.render()

    def render(self):
        self.results = {}
        for kind, tokenizer in self.tokenizers.items():
            result = describe_tokenization(tokenizer, self.text.value)
            self.results[kind] = result
            unknown = (f', <b style="color:#b91c1c">{result["unknown_count"]} unknown</b>'
                       if result["unknown_count"] else "")
            round_trip = "round trip exact" if result["decoded"] == self.text.value else "round trip changes the text"
            self.rows[kind].value = (
                f'<div style="margin-top:6px"><b>{TITLES.get(kind, kind)}</b>: {len(result["ids"])} tokens'
                f'{unknown} &middot; vocabulary {result["vocab_size"]:,} &middot; {round_trip}</div>'
                + token_strip_html(result["pieces"], result["ids"], result["unknown"]))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class BPEStepper:
    """Train BPE on a text, then slide through the merges: the sample text's segmentation after k merges,
    the pair merged at step k and the pairs it beat."""

    def __init__(self, text: str, num_merges: int = 200, sample: str = "the kingdom of the king"):
        self.result = train_bpe(text, num_merges)
        self.sample = W.Text(value=sample, description="sample", continuous_update=False,
                             layout=W.Layout(width="480px"))
        self.merges = W.IntSlider(value=0, min=0, max=len(self.result.merges), description="merges",
                                  continuous_update=True, layout=W.Layout(width="480px"))
        self.view = W.HTML()
        self.view.add_class("lmteach-bpe-view")
        self.sample.observe(lambda _: self.render(), names="value")
        self.merges.observe(lambda _: self.render(), names="value")
        self.widget = W.VBox([self.sample, self.merges, self.view])
        self.widget.add_class("lmteach-bpe")
        self.render()

    def render(self):
        k = self.merges.value
        pieces = [readable(p) for p in self.result.segment(self.sample.value, k)]
        lines = [f"<div>After <b>{k}</b> merges the sample is <b>{len(pieces)}</b> tokens "
                 f"(it started as {len(self.sample.value.encode())} bytes):</div>", token_strip_html(pieces)]
        if k > 0:
            step = self.result.steps[k - 1]
            left, right = (html.escape(readable(t)).replace(" ", "␣") for t in step.pair)
            rivals = ", ".join(f"<code>{html.escape(readable(a) + readable(b)).replace(' ', '␣')}</code> ({c:,})"
                               for (a, b), c in step.top_pairs[1:4])
            lines.append(f"<div style='margin-top:6px'>Merge {k}: <code>{left}</code> + <code>{right}</code> "
                         f"→ <code>{html.escape(readable(step.new_token)).replace(' ', '␣')}</code>, "
                         f"seen {step.count:,} times." + (f" Runners-up: {rivals}" if rivals else "") + "</div>")
        self.pieces = pieces
        self.view.value = "".join(lines)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
