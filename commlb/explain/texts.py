"""The fixed text of ``commlb explain``: the papers cited, the statuses a statement can
have, and the plain-words tables per problem, reduction, model family and message."""

from __future__ import annotations

from typing import Any

from ..core import ReductionSource as Source

#: paper abbreviations used in the text
PAPERS = {
    "SHT23": "Sanford, Hsu & Telgarsky, Representational Strengths and Limitations of Transformers (NeurIPS 2023)",
    "BHBK24": "Bhattamishra, Hahn, Blunsom & Kanade, Separations in the Representational Capabilities of "
              "Transformers and Recurrent Architectures (NeurIPS 2024)",
    "SHT24": "Sanford, Hsu & Telgarsky, Transformers, Parallel Computation, and Logarithmic Depth (ICML 2024)",
    "PNP24": "Peng, Narayanan & Papadimitriou, On Limitations of the Transformer Architecture (COLM 2024)",
    "MH25": "Mousavi-Hosseini, Sanford, Wu & Erdogdu, When Do Transformers Outperform Feedforward and "
            "Recurrent Networks? A Statistical Perspective (2025)",
}

#: the statuses a statement can have, as printed
STATUSES = ("proved in the cited paper", "derived here", "conjectured")


def source_sentence(src: Source, checked: bool = True) -> str:
    """A reduction's source (:attr:`commlb.core.Reduction.source`) in one sentence;
    ``checked``: whether the walk-through checked an inequality (else only the paper's
    statement has a status)."""
    head = f"{src.paper} ({PAPERS.get(src.paper, src.paper)}): {src.result}."
    if not checked:
        return head + " No inequality is checked at this size, so this run does not test that statement."
    where = f", see docs/theory.md {src.section}" if src.status == "derived here" else ""
    return (head + f" Status of the inequality checked here: {src.status}{where}"
            + (f"; {src.note}" if src.note else "") + ".")


def refusal(task: str, family: str, setup: Any) -> str | None:
    """Why explain does not walk through (task, family), in one line, or None."""
    from ..models.constructions import has_construction

    if setup.reduction is None:
        return (f"explain: task {task} has no reduction from a communication problem in commlb, so there "
                f"is no lower-bound argument to walk through; run it with `commlb simulate --task {task}`")
    if setup.structured_tokens and not has_construction(task, family):
        return (f"explain: no {family} model in commlb reads {task}'s real-valued tokens (only constructions "
                f"with a token encoder do, and there is no {task}/{family} construction), so there is no "
                f"protocol to run; try --model transformer")
    return None

# ---------------------------------------------------------------------------------
# Plain-words descriptions of the problems
# ---------------------------------------------------------------------------------
_PROBLEMS: dict[str, dict[str, str]] = {
    "disj": {
        "name": "set disjointness DISJ_{n}",
        "alice": "a set A of numbers from 1 to {n}, written as {n} bits a_1 … a_{n} (a_i = 1 means i is in A)",
        "bob": "a set B of numbers from 1 to {n}, written the same way as b_1 … b_{n}",
        "goal": "whether the two sets are disjoint: the answer is 1 if no i has a_i = b_i = 1, and 0 otherwise",
        "one_way": (
            "Suppose Alice may send one message and Bob must then answer. Picture a table with one row for "
            "each of Alice's 2^{n} possible sets and one column for each of Bob's. Two different rows always "
            "differ somewhere: if A contains some i that A' does not, Bob holding B = {{i}} must answer 0 for "
            "A and 1 for A'. So if two different sets of Alice's produced the same message, Bob would answer "
            "the same for both and be wrong on one of them. Alice therefore needs 2^{n} different messages, "
            "and 2^{n} different bit strings need at least {n} bits (pigeonhole)."
        ),
        "two_way": (
            "Even a back-and-forth conversation needs {n} + 1 bits. Look at the 2^{n} inputs where Bob's set "
            "is exactly the complement of Alice's: all of them are disjoint. If two of them, (A, not-A) and "
            "(A', not-A'), led to the same conversation, then Alice holding A and Bob holding not-A' would "
            "also have that same conversation — each of them says exactly what they said before, because "
            "each sees the same messages — and would answer 'disjoint'. But A ≠ A' means A meets not-A' or "
            "A' meets not-A, so one of these mixed inputs is not disjoint: a wrong answer. So those 2^{n} "
            "inputs need 2^{n} different conversations, plus at least one more that ends in 'not "
            "disjoint': 2^{n} + 1 conversations need at least {n} + 1 bits (a fooling set)."
        ),
    },
    "eq": {
        "name": "equality EQ_{n}",
        "alice": "a string a of {n} bits",
        "bob": "a string b of {n} bits",
        "goal": "whether a = b (answer 1) or not (answer 0)",
        "one_way": (
            "Suppose Alice sends one message and Bob answers. In the table with one row per string of "
            "Alice's and one column per string of Bob's, every row is different (row a has its single 1 in "
            "column a). If two different strings of Alice's produced the same message, Bob holding one of "
            "them would answer the same for both — wrong for one. So Alice needs 2^{n} different messages: "
            "at least {n} bits (pigeonhole)."
        ),
        "two_way": (
            "A conversation needs {n} + 1 bits. The 2^{n} inputs (a, a) all have answer 1. If (a, a) and "
            "(a', a') with a ≠ a' had the same conversation, then (a, a') would have it too (each party sees "
            "the same messages as before) and would also be answered 1 — wrong. So 2^{n} conversations end in "
            "'equal', at least one more ends in 'different': {n} + 1 bits (a fooling set). (With shared "
            "random coins equality becomes cheap; this is a deterministic bound.)"
        ),
    },
    "index": {
        "name": "indexing INDEX_{n}",
        "alice": "a string x of {n} bits",
        "bob": "a position i between 0 and {n} − 1 (positions are counted from 0)",
        "goal": "the bit x_i",
        "one_way": (
            "If only Alice may speak, she must send {n} bits. Picture a table with one row for each of "
            "Alice's 2^{n} strings and one column for each position i; the entry is x_i. Row x is the string "
            "x itself, so all 2^{n} rows are different. If two different strings got the same message, Bob "
            "would give the same answer for both — but they differ at some position i, and for that i he is "
            "wrong on one of them. So Alice needs 2^{n} different messages, which takes {n} bits "
            "(pigeonhole). Note the direction: if Bob could talk first he would send i (about log2 {n} bits) "
            "and Alice would reply with one bit. A model that reads Alice's part first, like an RNN, has no "
            "such luck."
        ),
        "two_way": (
            "With a conversation it is cheap: Bob sends i ({logn} bits) and Alice answers x_i (1 bit), and "
            "no protocol does better than about log2 {n} + 1 bits because Bob's {n} possible positions "
            "must be told apart. The interesting bound is the one-way one: when only Alice talks, she needs "
            "{n} bits."
        ),
    },
    "pc": {
        "name": "pointer chasing",
        "alice": "the odd steps of a chain of pointers (a function on the vertices)",
        "bob": "the even steps",
        "goal": "where the chain ends after k steps, starting from a known vertex",
        "one_way": (
            "Each step needs the holder of that step's function to speak. With fewer rounds than steps, "
            "some party must describe a large part of its function ahead of time, which costs bits "
            "proportional to the number of vertices (Nisan–Wigderson; SHT24 App. E for the multi-party form)."
        ),
        "two_way": (
            "With k rounds, the right party starting, k·log2(#vertices) bits suffice; with fewer rounds the "
            "cost jumps to roughly the number of vertices. A model that finishes in fewer rounds (an RNN "
            "with few layers, a shallow transformer) must therefore be wide."
        ),
    },
}

# What each part of a reduction's token sequence means
_PARTS: dict[str, list[str]] = {
    "disj-to-disjointness": [
        "a_1 … a_n — Alice's bits, one token each",
        "'#' — a fixed separator (public: the same for every input)",
        "b_1 … b_n — Bob's bits",
        "'=' — a fixed end token (public); the model's answer is read here",
    ],
    "eq-to-equality": [
        "a_1 … a_n — Alice's string, one token per bit",
        "'#' — a fixed separator (public)",
        "b_1 … b_n — Bob's string",
        "'=' — a fixed end token (public); the model's answer is read here",
    ],
    "index-to-index-lookup": [
        "x_1 … x_n — Alice's bits, used as the symbols to look up",
        "'?' — a fixed token (public) announcing the query",
        "@i — Bob's token naming the position i; the answer x_i is read here",
    ],
    "index-to-qsa": [
        "tokens 1 … n — Alice's data: token j carries the value z_j = x_j and the fixed pointer {j}",
        "the last token — Bob's query: its pointer set is {i}, so the average it asks for is z_i = x_i",
    ],
    "disj-to-qsa": [
        "2q data tokens in q pairs — Bob's: in pair i, the second slot holds +1 if b_i = 1 and −1 "
        "otherwise; the first slot always holds −1",
        "the last token — Alice's query: its pointer set picks one slot of each pair, the second one "
        "when a_i = 1",
        "qSA at the last token is the average of the q picked values: exactly −1 when no i has "
        "a_i = b_i = 1, at least −1 + 2/q otherwise",
    ],
    "disj-to-dyck": [
        "4 tokens per coordinate, owned Alice, Bob, Bob, Alice: Alice writes '( … )' for a_i = 0 and "
        "'[ … ]' for a_i = 1; Bob writes '()' in the middle for b_i = 0 and ')(' for b_i = 1",
        "only '[)(]' (a_i = b_i = 1) breaks the brackets, so the string is well formed iff the sets are "
        "disjoint",
        "a fixed '()' at the end (public), where the answer is read",
    ],
    "eq-to-dyck": [
        "2 tokens per coordinate: Alice opens with '(' or '[' (a_i = 0 or 1), Bob closes with ')' or ']'",
        "the string is well formed iff every pair matches, i.e. iff a = b",
        "a fixed '()' at the end (public), where the answer is read",
    ],
}

_FAMILY_PROTOCOL = {
    "rnn": (
        "An RNN reads the tokens left to right and keeps a memory: its hidden state, {layers} × {width} "
        "numbers of {p} bits. Alice runs it over her tokens (and the public ones). When the next token is "
        "Bob's, the only way Bob can continue the computation is to get the memory itself, so the state "
        "crosses whole: {layers}·{width}·{p} = {per_message} bits per hand-over. The party holding the last "
        "token reads the answer."
    ),
    "transformer": (
        "A transformer layer mixes tokens only through attention: the output at a position is a weighted "
        "average over all positions, and a weighted average is a sum. So each party can add up its own "
        "positions' contributions (a numerator vector and a denominator, kept exactly) and send just "
        "these partial sums; the receiver adds its own part and divides. When the position that asks "
        "(the query) is public, the answerer does not even need to hear the query."
    ),
    "ffn": (
        "A feedforward net's first layer is a weighted sum over the whole flattened input, so Alice can "
        "compute her part of every first-layer neuron and send those partial sums; Bob adds his part and "
        "finishes the network."
    ),
}

_QUERY_VECTOR_PROTOCOL = (
    "The protocol run here is the one of SHT23's Theorem 4 argument. Alice's only token is the query "
    "position, where the answer is read; Bob holds every data token. Alice sends one message: the query "
    "vector of her position (H·d_k numbers of p bits), her share of the attention sums (her own position "
    "is one of the keys) and the residual row of her position (m numbers of p bits, which the residual "
    "connection adds to the attention output). Bob computes the attention over his tokens with that "
    "query, adds Alice's share, finishes the layer and outputs. Its size depends only on the shape of the "
    "model, which is why it bounds the width."
)


FAMILY_NAMES = {"rnn": "RNN", "transformer": "transformer", "ffn": "feedforward net"}


_MESSAGE_MEANING = {
    "state": "the RNN's whole memory after reading the sender's tokens (every layer's hidden state)",
    "query-token": "the id of the sender's token at the asking position, cheaper than the query vector: "
                   "the receiver rebuilds the query from the public weights",
    "query": "the query vector of the asking position: what it is looking for",
    "query-vector": "the query vector of Alice's position, her share of the attention sums, and her "
                    "position's residual row",
    "partial-sums": "the sender's share of the attention average: the exact numerator vector and "
                    "denominator summed over the sender's own positions",
    "keys-values": "the keys and values of the sender's positions",
    "pre-activations": "the sender's part of every first-layer neuron's weighted sum",
}



#: (reduction, family) -> what the argument says about that family, in plain words (constructions)
_PUNCHLINES: dict[tuple[str, str], str] = {
    ("index-to-index-lookup", "rnn"): (
        "An RNN that does index lookup must carry all n symbols in its state: at least n bits, linear in n. "
        "A one-layer transformer needs only O(log n) width (try --model transformer): a separation."),
    ("index-to-index-lookup", "transformer"): (
        "The transformer escapes the n-bit one-way bound because attention lets the query go first: Bob's "
        "index crosses, and Alice answers with a few O(log n)-bit sums. Width O(log n) suffices, while an "
        "RNN needs a state of n bits (try --model rnn)."),
    ("disj-to-disjointness", "rnn"): (
        "An RNN deciding disjointness must pass at least n bits through its state at the cut: linear size. "
        "BHBK24 contrast this with two-layer transformers of logarithmic size."),
    ("disj-to-disjointness", "transformer"): (
        "With a public query position a one-layer transformer gives a one-way protocol whose receiver "
        "outputs, so it needs H·(d_v + 1)·p_acc ≥ D→(DISJ_n) = n bits (p_acc: the width of the sums as sent): "
        "linear size. A second layer escapes this, because it adds rounds of communication; BHBK24 give "
        "two-layer transformers of logarithmic size."),
    ("eq-to-equality", "rnn"): (
        "An RNN deciding string equality needs a state of at least n bits: linear size."),
    ("eq-to-equality", "transformer"): (
        "With a public query position a one-layer transformer gives a one-way protocol whose receiver "
        "outputs, so it needs H·(d_v + 1)·p_acc ≥ D→(EQ_n) = n bits (p_acc: the width of the sums as sent); "
        "two layers of logarithmic size suffice (BHBK24)."),
    ("disj-to-qsa", "transformer"): (
        "A one-layer transformer that approximates q-sparse averaging within 1/(2q) gives the one-way protocol "
        "above, so its width must grow linearly with q. SHT23's construction (Theorem 2) matches this up to log "
        "factors with m = O(q log N): width, not depth, is the price of sparse averaging."),
    ("index-to-qsa", "transformer"): (
        "SHT23's Theorem 11 is about recurrent models. A one-layer transformer escapes the one-way bound the "
        "same way as for index lookup: Bob's query crosses first and Alice answers with a few sums."),
    ("disj-to-dyck", "rnn"): (
        "Here the RNN's protocol hands its state over at every change of owner, and a Dyck-(2,2) state is one "
        "of 8 values: a constant-size RNN recognises the language (BHBK24), so the interleaved split costs it "
        "many small messages, not a large state."),
    ("eq-to-dyck", "rnn"): (
        "Here the RNN's protocol hands its state over at every change of owner, and a Dyck-(2,2) state is one "
        "of 8 values: a constant-size RNN recognises the language (BHBK24), so the interleaved split costs it "
        "many small messages, not a large state."),
}

