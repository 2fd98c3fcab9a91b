"""Result frames share their JSON document with the frames pandas derives from them
(pandas deep-copies `attrs` on every row or column taken)."""

from __future__ import annotations

import copy
import json
import pickle

import pandas as pd

from mashsim.experiment.shared_doc import SharedDoc


def test_derived_frames_share_the_document_and_it_stays_a_dict() -> None:
    doc = SharedDoc({"hubs": {"a": {"cost": 1.0, "rows": list(range(1000))}}})
    frame = pd.DataFrame({"hub": ["a", "b"], "x": [1, 2]})
    frame.attrs["plan"] = doc
    derived = [frame.iloc[[0]], frame[frame["x"] > 1], frame["x"].to_frame()]
    assert all(d.attrs["plan"] is doc for d in derived)
    assert copy.deepcopy(frame.attrs)["plan"] is doc
    assert isinstance(doc, dict)
    assert json.dumps(doc) == json.dumps(dict(doc))
    assert pickle.loads(pickle.dumps(doc)) == doc


def test_a_plain_dict_would_be_copied() -> None:  # the behaviour SharedDoc avoids
    frame = pd.DataFrame({"x": [1, 2]})
    frame.attrs["plan"] = {"hubs": {}}
    assert frame.iloc[[0]].attrs["plan"] is not frame.attrs["plan"]
