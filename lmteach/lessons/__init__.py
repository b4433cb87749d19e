"""One thin backend per lesson: the measurements and figures that only its notebook uses.

    start.py          lesson 00     gpt1.py          lesson 01     bert.py          lesson 02
    bert_vs_gpt1.py   lesson 03     gpt2.py          lesson 04     albert.py        lesson 05
    electra.py        lesson 06

Anything a second lesson needs lives lower in the library (lmteach.analysis, lmteach.training, ...).
"""
