from steady.chunks import chunk
from steady.gate import Gate, Rule
from steady.ids import classify, content_id
from steady.quarantine import Ledger


def test_ids_are_stable_and_classify_reruns() -> None:
    link = "https://ada.example/1"
    assert content_id("post", link) == content_id("post", link) != content_id("article", link)
    assert classify({"x": "h1"}, "x", "h1") == "unchanged"
    assert classify({"x": "h1"}, "y", "h1") == "new"


def test_bad_input_is_quarantined_and_counted() -> None:
    ledger = Ledger()
    for raw in (b"ok", b"\xff\xfe", b"fine"):
        with ledger.attempt("export.json", raw):
            raw.decode("utf-8")
    assert ledger.summary() == "3 read: 2 stored, 1 quarantined (1 not UTF-8)"


def test_chunks_respect_the_budget() -> None:
    chunks = chunk("One two three.\n\nFour five. Six seven.\n\n" + "word " * 25, budget=10)
    assert chunks[0] == "One two three.\n\nFour five. Six seven."
    assert all(len(c.split()) <= 10 for c in chunks)


def test_the_gate_names_the_metric_that_fell_short() -> None:
    gate = Gate([Rule("rouge_l", floor=0.2, tolerance=0.01), Rule("loss", higher_is_better=False)])
    verdict = gate.judge({"rouge_l": 0.25, "loss": 1.2}, {"rouge_l": 0.30, "loss": 1.1})
    assert not verdict.passed
    assert "rouge_l 0.25 is worse than the champion's 0.3" in verdict.message
