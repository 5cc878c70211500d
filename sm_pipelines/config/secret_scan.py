"""Credentials written as plain values in definitions/ are refused before anything compiles them.

A secret reaches a job only as a reference (`secrets:` in an environment, `<NAME>_SECRET` in the
job); a value in `variables`, a step's `environment`, an argument or a default would be written
into the definition JSON that upsert sends to AWS, where anyone who can describe the pipeline
reads it. So `validate` and `build` look at every string in every YAML file, except where a
reference is expected (an environment's `secrets:`, a step's list of secret names), for:
- a value under a name that says it is a secret (`..._PASSWORD`, `..._TOKEN`, `API_KEY`...),
- a known credential shape (a URL with a password, AWS access key ids, private keys, GitHub,
  Slack, OpenAI-style and JWT tokens),
- a long high-entropy token, which is how keys of unknown shape look: 32 or more characters of
  the base64 alphabet over 4.5 bits per character (detect-secrets' limit) whose character
  classes change at most pairs, as random text does (a model id such as
  `HuggingFaceTB/SmolLM2-135M-Instruct` is as "entropic" but made of words), or 32 or more hex
  digits over 3.0 bits.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sm_pipelines.errors import DefinitionError
from sm_pipelines.files import FieldPath, YamlDocument

# A name that ends like a secret's (so `max_new_tokens` is not one).
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)$",
    re.I,
)
_REFERENCE = re.compile(r"^(secretsmanager|ssm):[A-Za-z0-9/_+=.@-]+(#[A-Za-z0-9_.-]+)?$")
_SHAPES = (
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I), "a URL with a password"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), "an API key (sk-...)"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), "a JWT"),
)
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX_TOKEN = re.compile(r"\b[0-9a-fA-F]{32,}\b")
BASE64_LIMIT = 4.5
HEX_LIMIT = 3.0
# Share of neighbouring characters of different classes (upper, lower, digit, other): about
# 0.64 in random base64, under 0.5 in names made of words.
MIXING_LIMIT = 0.5
# Where a value is a reference or a name by design.
_REFERENCE_SECTIONS = {"secrets"}


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _class(char: str) -> int:
    return 0 if char.isupper() else 1 if char.islower() else 2 if char.isdigit() else 3


def mixing(text: str) -> float:
    """How often neighbouring characters differ in class."""
    pairs = list(itertools.pairwise(text))
    return sum(_class(a) != _class(b) for a, b in pairs) / max(len(pairs), 1)


def secret_problem(value: str, name: str = "") -> str | None:
    """Why `value` (held under `name`) looks like a credential, or None."""
    if _REFERENCE.match(value):
        return None
    if name and _SECRET_NAME.search(name) and value.strip():
        return f"{name} holds a literal value"
    for pattern, what in _SHAPES:
        if pattern.search(value):
            return f"the value looks like {what}"
    for token in _HEX_TOKEN.findall(value):
        if entropy(token) > HEX_LIMIT:
            return f"the value holds a high-entropy hex string ({len(token)} characters)"
    for token in _BASE64_TOKEN.findall(value):
        if entropy(token) > BASE64_LIMIT and mixing(token) >= MIXING_LIMIT:
            return f"the value holds a high-entropy string ({len(token)} characters)"
    return None


def _strings(node: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str, str]]:
    """(path, name the value is held under, value) for every string leaf."""
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key) in _REFERENCE_SECTIONS:
                continue
            if isinstance(value, str):
                yield (*path, key), str(key), value
            else:
                yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str):
                yield (*path, index), "", item
            else:
                yield from _strings(item, (*path, index))


def scan(doc: YamlDocument) -> list[DefinitionError]:
    """One error per string in `doc` that looks like a credential."""
    errors = []
    for path, name, value in _strings(doc.data):
        problem = secret_problem(value, name)
        if problem:
            errors.append(
                doc.error(
                    path,
                    f"{problem}; secrets never go in definitions: declare a reference under the "
                    "environment's `secrets:` and list the name in the step's `secrets:`",
                )
            )
    return errors
