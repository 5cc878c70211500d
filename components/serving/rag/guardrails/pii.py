"""Personal data in a text, found locally with no model and no download.

Entity names are Presidio's (the ones Opik's guardrails server takes), so one policy serves both
backends. Each detector pairs a pattern with the check that makes a match real, which keeps
false positives down without a language model:

  EMAIL_ADDRESS  local@domain.tld
  PHONE_NUMBER   Google's libphonenumber (the `phonenumbers` package): only numbers that are
                 valid for their region (`phone_region` for numbers written without +<country>)
  CREDIT_CARD    13-19 digits (spaces or dashes between) that pass the Luhn checksum
  IP_ADDRESS     IPv4 and IPv6 addresses that the standard library's `ipaddress` parses
  IBAN_CODE      a country code, check digits and account that pass ISO 13616's mod-97 check

Microsoft Presidio was the first choice, but its analyzer needs a spaCy model even when only
pattern recognizers are wanted, and its e-mail recognizer validates domains with tldextract,
which fetches the public suffix list at run time: neither may happen in the service.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from components.serving.rag.guardrails.findings import Finding

ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "IBAN_CODE")

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _iban_valid(raw: str) -> bool:
    code = raw.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


def _emails(text: str, region: str) -> Iterable[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        yield match.span()


def _phones(text: str, region: str) -> Iterable[tuple[int, int]]:
    import phonenumbers

    for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        yield match.start, match.end


def _cards(text: str, region: str) -> Iterable[tuple[int, int]]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits):
            yield match.span()


def _addresses(text: str, region: str) -> Iterable[tuple[int, int]]:
    for pattern in (_IPV4, _IPV6):
        for match in pattern.finditer(text):
            groups = [group for group in match.group().split(":") if group]
            if pattern is _IPV6 and len(groups) < 3:
                # "::2" is an address, and also a Python slice: too little to tell.
                continue
            try:
                ipaddress.ip_address(match.group())
            except ValueError:
                continue
            yield match.span()


def _ibans(text: str, region: str) -> Iterable[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        if _iban_valid(match.group()):
            yield match.span()


DETECTORS: dict[str, Callable[[str, str], Iterable[tuple[int, int]]]] = {
    "EMAIL_ADDRESS": _emails,
    "PHONE_NUMBER": _phones,
    "CREDIT_CARD": _cards,
    "IP_ADDRESS": _addresses,
    "IBAN_CODE": _ibans,
}


def find_pii(text: str, entities: Iterable[str], region: str = "US") -> list[Finding]:
    """Every entity of the given types in `text`, in order of position."""
    found = [
        Finding.of(entity, text, start, end)
        for entity in entities
        for start, end in DETECTORS[entity](text, region)
    ]
    return sorted(found, key=lambda f: (f.start, f.end, f.type))
