"""Lesson 00's tokenizer widgets: three tokenizers side by side on any text, and BPE merges one at a time.

    lt.widgets.TokenizerComparison()          # type any text, Korean and emoji included
    lt.widgets.BPEStepper(text, num_merges=200)
    tokenization_stats(tokenizer, sentences)  # tokens per sentence, [UNK] rate, exact round trips
"""

from __future__ import annotations

import html
import re

import ipywidgets as W

from ..data.bpe import readable, train_bpe
from ..data.tokenization import load_default
from ..i18n import N_, _, ngettext

KINDS = ("char", "byte_bpe", "wordpiece")
# English message ids; shown with _() so they follow the lesson's language.
TITLES = {"char": N_("character"), "byte_bpe": N_("byte-level BPE (GPT-2)"), "wordpiece": N_("WordPiece (BERT)"),
          "byte_bpe_ko": N_("byte-level BPE (GPT-2), trained on Korean"),
          "wordpiece_ko": N_("WordPiece (BERT), trained on Korean")}
_PALETTE = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa"]
_RAW_BYTES = re.compile(r"^<[0-9A-F]{2}( [0-9A-F]{2})*>$")  # a byte-level piece shown as its bytes (byte_piece)


def token_strip_html(pieces: list[str], ids: list[int] | None = None, unknown: str | None = None,
                     highlight: set[int] = frozenset()) -> str:
    """Tokens as coloured chips with their ids underneath; unknown tokens in red."""
    chips = []
    for i, piece in enumerate(pieces):
        is_unknown = unknown is not None and piece == unknown
        color = "#fca5a5" if is_unknown else _PALETTE[i % len(_PALETTE)]
        border = "2px solid #111" if i in highlight else "1px solid #aaa"
        label = (html.escape(piece) if _RAW_BYTES.match(piece)  # "<20 EB 82>": the spaces only separate bytes
                 else html.escape(piece).replace(" ", "␣").replace("\n", "⏎") or "∅")
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


def tokenization_stats(tokenizer, sentences: list[str]) -> dict:
    """How a tokenizer does on some sentences: mean tokens per sentence, the share of tokens that are [UNK],
    the share of sentences that decode back exactly, and its vocabulary size."""
    if not sentences:
        raise ValueError("need at least one sentence")
    tokens = unknown = exact = 0
    for sentence in sentences:
        result = describe_tokenization(tokenizer, sentence)
        tokens += len(result["ids"])
        unknown += result["unknown_count"]
        exact += result["decoded"] == sentence
    return {"tokens_per_sentence": tokens / len(sentences), "unk_rate": unknown / max(tokens, 1),
            "exact_round_trips": exact / len(sentences), "vocab_size": tokenizer.vocab_size,
            "sentences": len(sentences), "tokens": tokens}


def stats_table_html(stats: dict[str, dict], titles: dict | None = None) -> str:
    """A table of `tokenization_stats` results, one row per tokenizer (titles in the lesson's language)."""
    titles = {**TITLES, **(titles or {})}
    head = "".join(f"<th style='padding:0 8px'>{html.escape(_(h))}</th>" for h in (
        N_("tokenizer"), N_("vocabulary"), N_("tokens per sentence"), N_("[UNK] rate"), N_("exact round trips")))
    rows = []
    for name, row in stats.items():
        unk_style = " style='color:#b91c1c;font-weight:bold'" if row["unk_rate"] > 0 else ""
        rows.append(f"<tr><td style='padding:0 8px'>{html.escape(_(titles.get(name, name)))}</td>"
                    f"<td style='text-align:right;padding:0 8px'>{row['vocab_size']:,}</td>"
                    f"<td style='text-align:right;padding:0 8px'>{row['tokens_per_sentence']:.1f}</td>"
                    f"<td style='text-align:right;padding:0 8px'><span{unk_style}>{row['unk_rate']:.1%}</span></td>"
                    f"<td style='text-align:right;padding:0 8px'>{row['exact_round_trips']:.0%}</td></tr>")
    return f"<table class='lmteach-tokenizer-stats'><tr>{head}</tr>{''.join(rows)}</table>"


class TokenizerComparison:
    """Type any text; see character, byte-level BPE and WordPiece tokens and ids side by side."""

    def __init__(self, text: str = "To be, or not to be: 사느냐 죽느냐 🙂", tokenizers: dict | None = None,
                 titles: dict | None = None):
        self.tokenizers = tokenizers or {kind: load_default(kind) for kind in KINDS}
        self.titles = {**TITLES, **(titles or {})}  # row name -> English title (shown translated)
        self.text = W.Textarea(value=text, description=_("text"), continuous_update=False,
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
            unknown = (', <b style="color:#b91c1c">' + _("{n} unknown").format(n=result["unknown_count"]) + "</b>"
                       if result["unknown_count"] else "")
            round_trip = (_("round trip exact") if result["decoded"] == self.text.value
                          else _("round trip changes the text"))
            tokens = ngettext("{n} token", "{n} tokens", len(result["ids"])).format(n=len(result["ids"]))
            vocabulary = _("vocabulary {size:,}").format(size=result["vocab_size"])
            self.rows[kind].value = (
                f'<div style="margin-top:6px"><b>{html.escape(_(self.titles.get(kind, kind)))}</b>: {tokens}'
                f'{unknown} &middot; {vocabulary} &middot; {round_trip}</div>'
                + token_strip_html(result["pieces"], result["ids"], result["unknown"]))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


class BPEStepper:
    """Train BPE on a text, then slide through the merges: the sample text's segmentation after k merges,
    the pair merged at step k and the pairs it beat."""

    def __init__(self, text: str, num_merges: int = 200, sample: str = "the kingdom of the king"):
        self.result = train_bpe(text, num_merges)
        self.sample = W.Text(value=sample, description=_("sample"), continuous_update=False,
                             layout=W.Layout(width="480px"))
        self.merges = W.IntSlider(value=0, min=0, max=len(self.result.merges), description=_("merges"),
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
        lines = ["<div>" + _("After <b>{k}</b> merges the sample is <b>{n}</b> tokens (it started as {bytes} bytes):")
                 .format(k=k, n=len(pieces), bytes=len(self.sample.value.encode())) + "</div>",
                 token_strip_html(pieces)]
        if k > 0:
            step = self.result.steps[k - 1]
            left, right = (html.escape(readable(t)).replace(" ", "␣") for t in step.pair)
            rivals = ", ".join(f"<code>{html.escape(readable(a) + readable(b)).replace(' ', '␣')}</code> ({c:,})"
                               for (a, b), c in step.top_pairs[1:4])
            new = f"<code>{html.escape(readable(step.new_token)).replace(' ', '␣')}</code>"
            lines.append("<div style='margin-top:6px'>"
                         + _("Merge {k}: {left} + {right} → {new}, seen {count:,} times.").format(
                             k=k, left=f"<code>{left}</code>", right=f"<code>{right}</code>", new=new, count=step.count)
                         + (" " + _("Runners-up: {rivals}").format(rivals=rivals) if rivals else "") + "</div>")
        self.pieces = pieces
        self.view.value = "".join(lines)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
