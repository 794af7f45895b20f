"""Saved spaces and run records of any shape get one clear error naming the field (item 5):
the issue's cases, then random JSON and random edits of valid files (hypothesis)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpo_core.config import SearchConfig
from dpo_core.record import Candidate, HoldoutComparison, RunRecord
from dpo_core.space import FormatError, SearchSpace, Slot

PROMPT = "a cat on a red sofa"
NEGATIVE = SearchSpace(PROMPT, "negative", (Slot("cat", ("", "dog", "fox")), Slot("red", ("", "green"))),
                       negative_prompt="blurry")  # fmt: skip
POSITIVE = SearchSpace(
    PROMPT, "positive",
    (Slot("cat", ("cat", "kitten"), piece=1), Slot("sofa", ("sofa", "couch"), piece=3)),
    pieces=("a ", "cat", " on a red ", "sofa"),
)  # fmt: skip
CANDIDATE = Candidate(choice=(1, 0), text="blurry, dog", losses=(0.5, 0.25), phase="evolution",
                      generation=2)  # fmt: skip
RECORD = RunRecord(
    config=SearchConfig(), space=NEGATIVE, candidates=(CANDIDATE,),
    logits=((1.0, 0.0, 0.0), (1.0, 0.0)), loss_curve=(0.4, 0.3),
    holdout=HoldoutComparison((1, 2), (0.3, 0.2), (0.4, 0.5)), timings={"search": 1.5},
)  # fmt: skip


def _space_with(**changes) -> str:
    data = NEGATIVE.to_dict()
    data.update(changes)
    return json.dumps(data)


def test_valid_files_round_trip(tmp_path):
    assert SearchSpace.from_json(NEGATIVE.to_json()) == NEGATIVE
    assert SearchSpace.from_json(POSITIVE.to_json()) == POSITIVE
    RECORD.save(tmp_path / "run.json")
    assert RunRecord.load(tmp_path / "run.json") == RECORD


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"slots": "cat"}, "field 'slots' expected a list [...], got the string 'cat'"),
        ({"slots": [3]}, "field 'slots[0]' expected an object {...}, got the number 3"),
        ({"prompt": 7}, "field 'prompt' expected a string, got the number 7"),
        ({"prompt": None}, "field 'prompt' expected a string, got null"),
        # before: split into characters, ("", "d", "o", "g")
        ({"slots": [{"word": "cat", "candidates": "dog"}]},
         "field 'slots[0].candidates' expected a list [...], got the string 'dog'"),
        ({"slots": [{"word": "cat", "candidates": ["", 5]}]},
         "field 'slots[0].candidates[1]' expected a string, got the number 5"),
        ({"slots": [{"candidates": ["", "dog"]}]}, "the field 'slots[0].word' is missing"),
        ({"slots": [{"word": "cat", "candidates": ["dog"]}]}, "negative-mode slot 'cat': option 0 must be ''"),
        ({"mode": "sideways"}, "field 'mode' expected 'negative' or 'positive'"),
        ({"format_version": 9}, "field 'format_version' expected 1, got the number 9"),
    ],
)  # fmt: skip
def test_the_issue_cases_name_the_field(changes, message):
    with pytest.raises(FormatError) as info:
        SearchSpace.from_json(_space_with(**changes))
    assert message in str(info.value)
    assert str(info.value).startswith("search space JSON")


def test_a_format_1_record_loads_with_its_derived_values_computed():
    """Format 1 stored the means, the best candidate and the method beside what they derive
    from, and the GPO step range as step_start/step_end (this file was written by that code);
    it loads, the derived values are computed alike, and it saves again as format 2."""
    path = Path(__file__).parent / "records" / "format_1.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    assert old["format_version"] == 1 and "best" in old and "mean" in old["candidates"][0]
    record = RunRecord.load(path)
    assert record.method == old["method"] == "hybrid"
    assert record.best is not None and record.best.text == old["best"]["text"]
    assert [c.mean for c in record.candidates] == [c["mean"] for c in old["candidates"]]
    assert record.holdout is not None
    assert record.holdout.best_mean == old["holdout"]["best_mean"]
    assert record.holdout.original_mean == old["holdout"]["original_mean"]
    gpo = record.config.gpo
    assert (gpo.step_start_fraction, gpo.step_end_fraction) == (0.2, 0.4)
    again = json.loads(record.to_json())
    assert again["format_version"] == 2 and "best" not in again and "method" not in again
    assert "mean" not in again["candidates"][0] and "step_start" not in again["config"]["gpo"]
    assert RunRecord.from_json(record.to_json()) == record


def test_a_record_names_the_field_inside_its_space():
    data = RECORD.to_dict()
    data["space"]["slots"][1]["candidates"] = None
    with pytest.raises(FormatError, match=r"run record JSON: field 'space.slots\[1\].candidates'"):
        RunRecord.from_json(json.dumps(data))
    data = RECORD.to_dict()
    data["config"]["gpo"]["iterations"] = "twenty"
    with pytest.raises(FormatError, match=r"field 'config.gpo.iterations' expected a whole number"):
        RunRecord.from_json(json.dumps(data))


def test_a_record_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(RECORD.to_json().encode("utf-8").replace(b"hybrid", b"hyb\xffrid"))
    with pytest.raises(FormatError, match="run.json is not UTF-8 text"):  # before: UnicodeDecodeError
        RunRecord.load(path)
    with pytest.raises(FormatError, match="nested too deeply"):
        RunRecord.from_json("[" * 100_000)


# --- property tests -------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def _is_clear(err: FormatError, what: str) -> bool:
    text = str(err)
    return (text.startswith(what) or text.startswith("expected a JSON object")) and "\n" not in text


def _load_or_clear_error(load, text: str, what: str) -> None:
    try:
        load(text)
    except FormatError as err:  # any other exception fails the test
        assert _is_clear(err, what), str(err)


@st.composite
def _edited(draw, document: dict):
    """``document`` with one value somewhere inside it replaced by random JSON, or removed."""
    data = copy.deepcopy(document)
    node = data
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = draw(JSON)
        break
    return data


FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(JSON)
def test_random_json_is_a_space_or_a_clear_error(value):
    _load_or_clear_error(SearchSpace.from_json, json.dumps(value), "search space")


@FAST
@given(st.one_of(_edited(NEGATIVE.to_dict()), _edited(POSITIVE.to_dict())))
def test_edited_spaces_load_or_give_a_clear_error(data):
    _load_or_clear_error(SearchSpace.from_json, json.dumps(data), "search space")


@FAST
@given(JSON)
def test_random_json_is_a_record_or_a_clear_error(value):
    _load_or_clear_error(RunRecord.from_json, json.dumps(value), "run record")


@FAST
@given(_edited(RECORD.to_dict()))
def test_edited_records_load_or_give_a_clear_error(data):
    _load_or_clear_error(RunRecord.from_json, json.dumps(data), "run record")


@FAST
@given(st.binary(max_size=64))
def test_random_bytes_are_a_clear_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("records") / "run.json"
    path.write_bytes(blob)
    _load_or_clear_error(RunRecord.load, str(path), "run record")
