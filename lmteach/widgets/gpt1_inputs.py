"""GPT-1's input transforms, on real examples (Radford et al. 2018, §3.3 and Figure 1, right).

Pick a task kind and an example; the widget shows the token sequence(s) the model really receives: every
token with its id, coloured by its role (Start, first text, Delim, second text, Extract), and the Extract
position whose final hidden state the linear classifier reads.

    Gpt1InputsExplorer(tokenizer)       # tokenizer = load_default("byte_bpe", gpt1_specials=True)
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..training.finetune import encode_examples, gpt1_inputs, gpt1_task_kind
from ..data.tasks import load_task, task_info
from ..i18n import N_, _

# Dropdown label -> shipped task; each shipped task uses one of GPT-1's four transforms. The labels are translated
# where the dropdown is drawn.
TASK_CHOICES = {N_("classification (genre)"): "genre", N_("entailment (reply)"): "reply",
                N_("similarity (same_play)"): "same_play", N_("multiple choice (next_speech)"): "next_speech"}

ROLE_COLORS = {"start": "#2ca02c", "delim": "#ff7f0e", "extract": "#d62728", "first": "#dbe9f6", "second": "#eadcf3"}
ROLE_TEXT = {"start": "white", "delim": "white", "extract": "white", "first": "black", "second": "black"}

# The task kinds as shown (translated where shown), and a note on each.
KIND_NAMES = {"classification": N_("classification"), "entailment": N_("entailment"),
              "similarity": N_("similarity"), "multiple_choice": N_("multiple_choice")}
KIND_NOTES = {
    "classification": N_("One sequence <code>Start text Extract</code>; the classifier reads the Extract state."),
    "entailment": N_("One sequence <code>Start premise Delim hypothesis Extract</code>: the Delim token tells "
                     "the model where the premise ends."),
    "similarity": N_("Two sequences, one per order (<code>A Delim B</code> and <code>B Delim A</code>): "
                     "similarity has no natural order, so the two Extract states are <b>added</b> before the "
                     "classifier."),
    "multiple_choice": N_("One sequence per answer, <code>Start context Delim answer Extract</code>; each "
                          "Extract state gets one score, and a softmax over the answers picks one."),
}


def token_roles(ids: list[int], tokenizer) -> list[str]:
    """The role of every token of one framed sequence: start, first, delim, second, extract."""
    roles, part = [], "first"
    for token_id in ids:
        if token_id == tokenizer.start_id:
            roles.append("start")
        elif token_id == tokenizer.delim_id:
            roles.append("delim")
            part = "second"
        elif token_id == tokenizer.extract_id:
            roles.append("extract")
        else:
            roles.append(part)
    return roles


def _shown(tokenizer, token_id: int) -> str:
    """A token as a student should see it: specials by name, spaces as a visible dot."""
    if token_id in tokenizer.special_ids:
        return tokenizer.id_to_token(token_id)
    return tokenizer.decode([token_id]).replace(" ", "·").replace("\n", "⏎")


def strip_css() -> str:
    """The style sheet of the token strips (one copy per view, so each token is a short span)."""
    rules = [".lmteach-token{display:inline-block;margin:1px;padding:1px 3px;border-radius:3px;"
             "font-family:monospace;font-size:12px;text-align:center;line-height:1.2}",
             ".lmteach-token small{display:block;font-size:9px;opacity:0.8}",
             ".lmteach-read-here{outline:3px solid #000}"]
    rules += [f".lmteach-role-{role}{{background:{color};color:{ROLE_TEXT[role]}}}" for role, color in ROLE_COLORS.items()]
    return "<style>" + "".join(rules) + "</style>"


def token_strip_html(ids: list[int], tokenizer, extract_position: int, caption: str = "") -> str:
    """One sequence as a strip of coloured boxes (token above, id below); the Extract box is outlined and
    labelled as the position the classifier reads."""
    cells = []
    for position, (token_id, role) in enumerate(zip(ids, token_roles(ids, tokenizer))):
        extract = " lmteach-read-here" if position == extract_position else ""
        where = html.escape(_("position {position}").format(position=position))
        cells.append(f'<span class="lmteach-token lmteach-role-{role}{extract}" title="{where}">'
                     f'{html.escape(_shown(tokenizer, token_id))}<small>{token_id}</small></span>')
    read = _("▲ the classifier reads the final hidden state at position {position} (Extract), which has attended "
             "to all {n} tokens").format(position=extract_position, n=extract_position + 1)
    note = f'<div style="font-size:11px;color:#d62728">{html.escape(read)}</div>'
    count = _("{n} tokens").format(n=len(ids))
    head = (f"<div style='font-size:12px;margin-top:6px'><b>{html.escape(caption)}</b> ({html.escape(count)})"
            "</div>")
    return head + "<div>" + "".join(cells) + "</div>" + note


def example_html(tokenizer, task: str, example: dict, max_len: int = 96) -> str:
    """The whole view for one example: its text and label, then every sequence GPT-1 builds from it."""
    info = task_info(task)
    kind = gpt1_task_kind(task)
    inputs = gpt1_inputs(tokenizer, task, encode_examples(tokenizer, task, [example]), max_len)
    input_ids = inputs["input_ids"][0].reshape(-1, inputs["input_ids"].shape[-1])   # [sequences, seq]
    mask = inputs["attention_mask"][0].reshape(input_ids.shape)
    positions = inputs["extract_positions"][0].reshape(-1).tolist()
    label = int(example["label"])
    about = _("task {task}: {description}").format(task=f"<code>{task}</code>",
                                                    description=html.escape(info['description']))
    shown_label = _("label: {label}").format(label=f"<b>{html.escape(info['label_names'][label])}</b>")
    parts = [f"<div><b>{html.escape(_(KIND_NAMES.get(kind, kind)))}</b> — {_(KIND_NOTES[kind])}</div>",
             f"<div style='font-size:12px;color:#555'>{about} &nbsp; {shown_label}</div>"]
    if kind == "similarity":
        captions = [_("order 1: A Delim B"), _("order 2: B Delim A")]
    elif kind == "multiple_choice":
        captions = [(_("answer {k} (the right one)") if k == label else _("answer {k}")).format(k=k)
                    for k in range(len(positions))]
    else:
        captions = [_("the sequence")]
    for row, caption in enumerate(captions):
        ids = input_ids[row][mask[row].bool()].tolist()
        parts.append(token_strip_html(ids, tokenizer, positions[row], caption))
    legend = " ".join(f'<span style="background:{ROLE_COLORS[r]};color:{ROLE_TEXT[r]};padding:0 4px;'
                      f'border-radius:3px;font-size:11px">{html.escape(name)}</span>'
                      for r, name in (("start", "Start"), ("first", _("first text")), ("delim", "Delim"),
                                      ("second", _("second text")), ("extract", "Extract")))
    return f"{strip_css()}<div class='lmteach-gpt1-sequences'>{''.join(parts)}<div style='margin-top:4px'>{legend}</div></div>"


class Gpt1InputsExplorer:
    """Dropdown: task kind; slider: which example (of the train split). Shows tokens, ids and Extract."""

    def __init__(self, tokenizer, split: str = "train", max_len: int = 96, task: str = "genre", index: int = 0):
        self.tokenizer, self.split, self.max_len = tokenizer, split, max_len
        self.examples = {name: load_task(name, split) for name in TASK_CHOICES.values()}
        self.task_dropdown = W.Dropdown(options=[(_(name), choice) for name, choice in TASK_CHOICES.items()],
                                        value=task, description=_("task kind"),
                                        style={"description_width": "initial"})
        self.index_slider = W.IntSlider(value=index, min=0, max=len(self.examples[task]) - 1,
                                        description=_("example"), continuous_update=False)
        self.view = W.HTML()
        self.task_dropdown.observe(self._on_task, names="value")
        self.index_slider.observe(lambda _: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.task_dropdown, self.index_slider]), self.view])
        self.widget.add_class("lmteach-gpt1-inputs")
        self.render()

    @property
    def task(self) -> str:
        return self.task_dropdown.value

    def _on_task(self, change):
        self.index_slider.max = len(self.examples[self.task]) - 1
        self.render()

    def render(self):
        example = self.examples[self.task][self.index_slider.value]
        self.view.value = example_html(self.tokenizer, self.task, example, self.max_len)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
