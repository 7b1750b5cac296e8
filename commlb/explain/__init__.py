"""A classroom walk-through of one lower-bound argument (``commlb explain``).

:func:`explain` runs the whole chain on one small instance and returns five steps, each
a title, a few paragraphs of plain words and the numbers behind them:

1. **problem** — the communication problem the reduction starts from: what Alice and Bob
   hold, what they must compute, and why it needs that many bits (the rows-of-the-matrix
   / pigeonhole argument for one-way messages, the fooling-set argument for
   conversations);
2. **reduction** — how (x, y) is written as the task's tokens, who owns each token and
   what each part means, checked on this instance (the task's answer decodes to f(x, y));
3. **protocol** — the model run as a protocol *for real*: every message, what it carries,
   its bits, and the check that the protocol's answer equals the model's forward pass;
4. **inequality** — bits sent against the bound that applies to this transcript, and
   what that forces on the model's size;
5. **conclusion** — what the run shows and, as important, what it does not.

Every pair (task, model family) is one of three kinds (:attr:`Explanation.basis`):

* ``"construction"`` — commlb has weights that solve the task (a paper's construction or
  one of ours); the walk-through runs them and sets their protocol against the bound;
* ``"random"`` — no construction: the model has seeded random weights, is not a solver,
  and the walk-through says so.  What it still shows is real: the messages of a model
  depend only on its shape (sizes and precision), so when they are shorter than the bound
  *no* model of that shape solves the task; it never claims to reproduce a theorem;
* refused — no reduction, or no model of that family can read the task's tokens: a
  one-line :class:`~commlb.errors.InvalidInputError` (exit code 2 in the CLI).

For DISJ_q → qSA with a transformer the walk-through runs the one-way query-vector
protocol (:mod:`commlb.protocol.query_vector`), the protocol of SHT23 Theorem 4's
argument, rather than the cheaper two-way protocol ``simulate`` picks: only the former's
size is a function of the width.

Every number in the text is taken from the run (tests/test_explain.py recomputes each one
from an independent run).  Statuses are stated for readers: *proved in the cited paper*,
*derived here* (with the docs/theory.md section), or *conjectured*.

The package: :mod:`.texts` (papers, statuses, the plain-words tables),
:mod:`.explanation` (:class:`Step`, :class:`Explanation`), :mod:`.run` (:func:`explain`),
:mod:`.steps` (the five steps) and :mod:`.error` (models that err, ``explain --problem``).
"""

from __future__ import annotations

from .error import ERROR_PROBLEMS, ErrorBound, binary_entropy, error_bound, explain_error, parse_error
from .explanation import Explanation, Step, fmt_bits, token_labels
from .run import explain
from .steps import MESSAGES_SHOWN, _construction_name, model_summary
from .texts import FAMILY_NAMES, PAPERS, STATUSES, Source, refusal, source_sentence

__all__ = ["Step", "Explanation", "Source", "explain", "explain_error", "error_bound", "ErrorBound",
           "ERROR_PROBLEMS", "PAPERS", "STATUSES", "source_sentence", "refusal", "token_labels",
           "model_summary", "FAMILY_NAMES", "fmt_bits", "parse_error", "binary_entropy", "MESSAGES_SHOWN",
           "_construction_name"]
